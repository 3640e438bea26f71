# Fuzz target for the access area's parsers of outside input (redis_url,
# /v1/usage time bounds, presented keys, admin key specs, key/model
# extraction from requests). See fuzz_access.cpp.
if(COMMAND osprey_add_fuzz)
  osprey_add_fuzz(NAME fuzz_access
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_access.cpp
                          ${CMAKE_CURRENT_LIST_DIR}/../../src/api/usage_routes.cpp
                  LIBS osprey_access
                  SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/access)
endif()
