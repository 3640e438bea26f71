# Access area: admin key REST, GET /v1/usage, GET /metrics and the
# `osprey keys` CLI. The middleware itself lives in src/access.
list(APPEND OSPREY_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/admin_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/usage_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/keys_command.cpp)
list(APPEND OSPREY_API_LIBS osprey_access osprey_usage osprey_metrics osprey_http CLI11::CLI11)
