# Differential fuzz target for common/json_scan, with nlohmann::json as the
# oracle. See fuzz_json_scan.cpp.
osprey_add_fuzz(NAME fuzz_json_scan SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_json_scan.cpp LIBS osprey_common
                SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/json)
