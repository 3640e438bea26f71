# Fuzz target for the inference area's hostile-input parser: the ONNX
# rewrite that runs on every .onnx file before OpenCV loads it.
osprey_add_fuzz(NAME fuzz_onnx_rewrite SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_onnx_rewrite.cpp LIBS osprey_onnx
                SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/onnx_rewrite)
