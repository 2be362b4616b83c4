{
  "targets": [
    {
      "target_name": "rmc_native",
      "sources": ["rmc_native.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-ffp-contract=off", "-fno-trapping-math", "-fopenmp", "-fexceptions"],
      "ldflags": ["-fopenmp"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "libraries": ["-ldnnl"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
