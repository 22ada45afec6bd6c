{
  "targets": [
    {
      "target_name": "ptychopinn",
      "sources": ["<!@(node scripts/torch-paths.js sources)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/torch-paths.js include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "_GLIBCXX_USE_CXX11_ABI=1"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-Wno-unused-parameter"],
      "libraries": ["<!@(node scripts/torch-paths.js libs)"],
      "ldflags": ["-Wl,--disable-new-dtags", "-Wl,-rpath,<!(node scripts/torch-paths.js libdir)"]
    },
    {
      "target_name": "ptychopinn_metrics",
      "sources": ["native/metrics/addon.cc", "native/metrics/fft.cc", "native/metrics/metrics.cc",
                  "native/js_boundary.cc", "native/job.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-fvisibility=hidden"]
    }
  ]
}
