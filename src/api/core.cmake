# Core routes: health probes, server metadata, OpenAPI and the docs page.
# The docs page's assets come from npm (web/package.json, swagger-ui-dist)
# and are linked into the binary with .incbin, so /docs works offline.
set(OSPREY_WEB_DIR ${CMAKE_SOURCE_DIR}/web)
set(_swagger ${OSPREY_WEB_DIR}/node_modules/swagger-ui-dist)
if(NOT EXISTS ${_swagger}/swagger-ui-bundle.js)
  find_program(NPM npm)
  if(NOT NPM)
    message(FATAL_ERROR "npm is needed to fetch the /docs assets (web/package.json); run scripts/setup")
  endif()
  message(STATUS "Installing web assets with npm (web/)")
  execute_process(COMMAND ${NPM} ci --no-audit --no-fund WORKING_DIRECTORY ${OSPREY_WEB_DIR} RESULT_VARIABLE _npm_rc)
  if(NOT _npm_rc EQUAL 0)
    message(FATAL_ERROR "npm ci in web/ failed")
  endif()
endif()
enable_language(ASM)
configure_file(${CMAKE_CURRENT_LIST_DIR}/docs_assets.S.in ${CMAKE_CURRENT_BINARY_DIR}/docs_assets.S @ONLY)
set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/docs_assets.S PROPERTIES
  OBJECT_DEPENDS "${_swagger}/swagger-ui-bundle.js;${_swagger}/swagger-ui.css;${OSPREY_WEB_DIR}/index.html")
# A library of its own so that small consumers (the request fuzz target)
# need not link every area.
add_library(osprey_api_core STATIC
  ${CMAKE_CURRENT_LIST_DIR}/core_routes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/openapi.cpp
  ${CMAKE_CURRENT_BINARY_DIR}/docs_assets.S)
target_link_libraries(osprey_api_core PUBLIC osprey_http osprey_config osprey_metrics)
list(APPEND OSPREY_API_LIBS osprey_api_core)
