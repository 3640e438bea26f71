# Fuzz targets for hostile-input parsers owned by the vision area: the image
# decoder (all formats, EXIF, DCT scaling) and the multipart/form-data parser.
# Built only with OSPREY_FUZZ=ON (clang); the lead's tests/fuzz/CMakeLists.txt
# defines osprey_add_fuzz (sanitizers + a bounded-time CTest per target).
if(COMMAND osprey_add_fuzz)
  osprey_add_fuzz(NAME fuzz_image SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_image.cpp LIBS osprey_vision)
  osprey_add_fuzz(NAME fuzz_multipart SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_multipart.cpp LIBS osprey_http)
else()
  foreach(t fuzz_image fuzz_multipart)
    add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.cpp)
    target_compile_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
  target_link_libraries(fuzz_image PRIVATE osprey_vision)
  target_link_libraries(fuzz_multipart PRIVATE osprey_http)
endif()
