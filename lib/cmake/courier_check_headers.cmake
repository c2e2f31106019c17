# courier_check_headers: compiles every public header alone, so that each
# one includes what it uses (one translation unit per header).
function(courier_check_headers include_dir)
  file(GLOB_RECURSE headers RELATIVE ${include_dir} ${include_dir}/courier/*.hpp)
  set(sources)
  foreach(h IN LISTS headers)
    string(MAKE_C_IDENTIFIER "${h}" id)
    set(src ${CMAKE_CURRENT_BINARY_DIR}/check_headers/${id}.cpp)
    file(CONFIGURE OUTPUT ${src} CONTENT "#include \"${h}\"\n")
    list(APPEND sources ${src})
  endforeach()
  add_library(courier_check_headers OBJECT EXCLUDE_FROM_ALL ${sources})
  target_link_libraries(courier_check_headers PRIVATE courier::courier
                        courier::http courier_warnings)
endfunction()
