# Detection routes: /v1/detect, the DeepStack/CodeProject.AI face, KServe v2,
# the detection model admin resources, and the `osprey detect` CLI pipeline.
list(APPEND OSPREY_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/detection_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/deepstack_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kserve_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detect_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/describe_route.cpp)
list(APPEND OSPREY_API_LIBS osprey_http osprey_vision osprey_inference)
# Routes are declared with designated initializers that leave most Route
# fields at their defaults on purpose; -Wextra would flag every one.
set_source_files_properties(
  ${CMAKE_CURRENT_LIST_DIR}/detection_routes.cpp ${CMAKE_CURRENT_LIST_DIR}/deepstack_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kserve_routes.cpp ${CMAKE_CURRENT_LIST_DIR}/model_routes.cpp
  PROPERTIES COMPILE_OPTIONS -Wno-missing-field-initializers)
