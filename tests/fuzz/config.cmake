# The config file loader (TOML, [[upstreams]], [prices]).
osprey_add_fuzz(NAME fuzz_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.cpp LIBS osprey_config
                SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/config)
