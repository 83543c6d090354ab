# Sourced by the bench scripts: fills the array FLAGS with the CMake options of a llama.cpp build
# (every GGML_* option, the build type and the compiler flags) read from its CMakeCache.txt, so a
# reference tool (llama-bench, llama-server) is built exactly as LexDesk's own llama.cpp.
#   llama_cmake_flags "$CARGO_TARGET_DIR/…/CMakeCache.txt"; cmake … "${FLAGS[@]}"
llama_cmake_flags() {
  FLAGS=()
  while IFS= read -r line; do FLAGS+=("-D$line"); done < <(
    grep -E '^(GGML_[A-Z0-9_]+|CMAKE_BUILD_TYPE|CMAKE_C_FLAGS|CMAKE_CXX_FLAGS|CMAKE_C_FLAGS_[A-Z]+|CMAKE_CXX_FLAGS_[A-Z]+):' "$1" |
      grep -vE '^GGML_(ALL_WARNINGS|BUILD_|STANDALONE|CCACHE)' | sed -E 's/:[A-Z]+=/=/')
}
