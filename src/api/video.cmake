# Real-time video routes: server-side streams (SSE events, MJPEG) and the
# client-pushed WebSocket detection endpoint.
list(APPEND OSPREY_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/video_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/video_ws_route.cpp)
list(APPEND OSPREY_API_LIBS osprey_video osprey_access osprey_usage)
