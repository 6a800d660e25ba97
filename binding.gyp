{
  "variables": {"shmt_stamps%": 0},
  "targets": [
    {
      "target_name": "shmtender",
      "sources": [
        "native/addon.cc",
        "native/tap.cc",
        "native/burst.cc",
        "native/uring_rx.cc",
        "native/eventfd_epoll.cc",
        "native/thread.cc",
        "native/privileges.cc",
        "native/rlimit.cc",
        "native/seccomp.cc",
        "native/stamps.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "libraries": ["<!@(pkg-config --libs libseccomp liburing)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "conditions": [["shmt_stamps==1", {"defines": ["SHMT_STAMPS"]}]]
    }
  ]
}
