# Fuzz target for the video area's hostile-input parsers: the lines and
# zones of POST /v1/streams, then the tracker and counter fed with whatever
# boxes the bytes make (NaN, infinities, inverted boxes included).
osprey_add_fuzz(NAME fuzz_video_shapes SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_video_shapes.cpp
                LIBS osprey_video_tracking SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/video_shapes)
