# Fuzz targets for hostile-input parsers owned by the vision area: the image
# decoder (all formats, EXIF, DCT scaling) and the multipart/form-data parser.
osprey_add_fuzz(NAME fuzz_image SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_image.cpp LIBS osprey_vision opencv_imgcodecs)
osprey_add_fuzz(NAME fuzz_multipart SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_multipart.cpp LIBS osprey_http)
