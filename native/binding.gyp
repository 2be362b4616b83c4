{
  # portable=1 (scripts/build-prebuilds.mjs): the prebuilt binary shipped in prebuilds/linux-x64/,
  # for any x86-64-v2 CPU (oneDNN picks its kernels for the CPU at run time anyway), finding the
  # libraries shipped beside it first: DT_RPATH $ORIGIN (--disable-new-dtags), which, unlike RUNPATH,
  # also applies to libdnnl's own dependencies (libgomp, libOpenCL). portable=0 (npm install from
  # source): tuned for the building machine, linked against the system's oneDNN.
  "variables": { "portable%": 0 },
  "targets": [
    {
      "target_name": "rmc_native",
      "sources": ["rmc_native.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fno-trapping-math", "-fopenmp", "-fexceptions"],
      "ldflags": ["-fopenmp"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "libraries": ["-ldnnl"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["portable==1", {
          "cflags_cc": ["-march=x86-64-v2", "-mtune=generic"],
          "ldflags": ["-Wl,--disable-new-dtags", "-Wl,-rpath,'$$ORIGIN'"]
        }, {
          "cflags_cc": ["-march=native"]
        }]
      ]
    }
  ]
}
