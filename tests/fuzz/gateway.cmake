# Fuzz target for the gateway's SSE parser (built with OSPREY_FUZZ=ON and clang).
add_executable(fuzz_sse ${CMAKE_CURRENT_LIST_DIR}/fuzz_sse.cpp)
target_compile_options(fuzz_sse PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_options(fuzz_sse PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_sse PRIVATE osprey_gateway)
