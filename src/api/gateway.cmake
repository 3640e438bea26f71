# The OpenAI-compatible gateway routes and the `osprey secrets` command.
list(APPEND OSPREY_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/chat_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gateway_relay.cpp
  ${CMAKE_CURRENT_LIST_DIR}/responses_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/secrets_command.cpp)
list(APPEND OSPREY_API_LIBS osprey_gateway osprey_secrets osprey_http osprey_metrics)
