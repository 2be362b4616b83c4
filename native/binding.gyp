{
  # portable=1 march=x86-64-v2 (scripts/build-prebuilds.mjs): the prebuilt binary shipped in
  # prebuilds/linux-x64/, for any x86-64-v2 CPU (oneDNN picks its own kernels for the CPU at run time;
  # builds for v3 and v4 measured no faster), finding the libraries shipped beside it first: DT_RPATH
  # $ORIGIN (--disable-new-dtags), which, unlike RUNPATH, also applies to libdnnl's own dependencies
  # (libgomp, libOpenCL). The defaults (npm install from source): tuned for the building machine
  # (march=native), linked against the system's oneDNN.
  "variables": { "portable%": 0, "march%": "native" },
  "targets": [
    {
      "target_name": "rmc_native",
      "sources": ["rmc_native.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=<(march)", "-ffp-contract=off", "-fno-trapping-math", "-fopenmp", "-fexceptions"],
      "ldflags": ["-fopenmp"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "libraries": ["-ldnnl"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["portable==1", {
          "cflags_cc": ["-mtune=generic"],
          "ldflags": ["-Wl,--disable-new-dtags", "-Wl,-rpath,'$$ORIGIN'"]
        }]
      ]
    }
  ]
}
