{
  "targets": [
    {
      "target_name": "tcp_keepalive",
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "sources": ["src/addon.cc"],
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "conditions": [
        ["OS=='linux'", {"sources": ["src/keepalive_posix.cc", "src/system_linux.cc", "src/harness_linux.cc", "src/find_fd_linux.cc"]}],
        ["OS=='mac'", {"sources": ["src/keepalive_posix.cc", "src/system_bsd.cc", "src/harness_none.cc", "src/find_fd_darwin.cc"]}],
        ["OS=='freebsd'", {"sources": ["src/keepalive_posix.cc", "src/system_bsd.cc", "src/harness_none.cc", "src/find_fd_none.cc"]}],
        ["OS=='win'", {"sources": ["src/keepalive_win.cc", "src/system_win.cc", "src/harness_none.cc", "src/find_fd_none.cc"]}]
      ]
    }
  ]
}
