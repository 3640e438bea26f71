# The gateway's incremental SSE parser.
osprey_add_fuzz(NAME fuzz_sse SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sse.cpp LIBS osprey_gateway)
