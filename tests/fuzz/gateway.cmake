# The gateway's incremental SSE parser.
osprey_add_fuzz(NAME fuzz_sse SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sse.cpp LIBS osprey_gateway)
# The scan of each relayed chat chunk for usage and text (SIMD against the
# byte-at-a-time walk).
osprey_add_fuzz(NAME fuzz_chat_chunk SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_chat_chunk.cpp LIBS osprey_gateway
                SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/chat_chunk)
