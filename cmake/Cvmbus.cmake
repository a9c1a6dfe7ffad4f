# Helpers shared by every layer, so that adding a layer or a test touches only
# that layer's own CMakeLists.txt.

# cvmbus_layer(NAME SOURCES a.c b.c ... [DEPS layer ...] [LIBS lib ...]):
# one layer of libcvmbus, compiled as an object library and folded into the
# single libcvmbus by src/. DEPS names the lower layers whose symbols it
# uses, so a test that links this layer gets them too; LIBS are external
# libraries (they become usage requirements of libcvmbus as well).
function(cvmbus_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  add_library(cvmbus_${name} OBJECT ${L_SOURCES})
  target_include_directories(cvmbus_${name}
    PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  set_target_properties(cvmbus_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(L_LIBS)
    target_link_libraries(cvmbus_${name} PUBLIC ${L_LIBS})
    set_property(GLOBAL APPEND PROPERTY CVMBUS_LAYER_LIBS ${L_LIBS})
  endif()
  set_property(GLOBAL PROPERTY CVMBUS_LAYER_DEPS_${name} ${L_DEPS})
  set_property(GLOBAL APPEND PROPERTY CVMBUS_LAYERS cvmbus_${name})
endfunction()

# The layers named, plus every layer they depend on, each once.
function(cvmbus_layer_closure out)
  set(result "")
  set(queue ${ARGN})
  while(queue)
    list(POP_FRONT queue l)
    if(NOT l IN_LIST result)
      list(APPEND result ${l})
      get_property(d GLOBAL PROPERTY CVMBUS_LAYER_DEPS_${l})
      list(APPEND queue ${d})
    endif()
  endwhile()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# cvmbus_add_test(NAME SOURCES a.c ... [LAYERS wire ring] [LIBS x y]
#                 [LABELS l] [TIMEOUT s]):
# a cmocka test executable registered with ctest. With LAYERS it links only
# those layers' objects (so a unit test builds while other layers are being
# written); without, the whole libcvmbus.
function(cvmbus_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LAYERS;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src
                                             ${PROJECT_SOURCE_DIR}/tests
                                             ${PROJECT_SOURCE_DIR}/include)
  if(T_LAYERS)
    cvmbus_layer_closure(closure ${T_LAYERS})
    set(libs "")
    foreach(l ${closure})
      list(APPEND libs cvmbus_${l})
    endforeach()
  else()
    set(libs cvmbus)
  endif()
  target_link_libraries(${name} PRIVATE ${libs} cmocka Threads::Threads ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
                       LABELS "${T_LABELS}")
  # The races the model has on purpose (tests/tsan.supp says which).
  if(CVMBUS_SANITIZE MATCHES "thread")
    set_tests_properties(${name} PROPERTIES ENVIRONMENT
                         "TSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/tsan.supp")
  endif()
endfunction()
