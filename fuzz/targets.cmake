# The fuzz targets and the layers each one links, in one list shared by the
# libFuzzer build (fuzz/CMakeLists.txt, -DCVMBUS_FUZZ=ON) and the replay
# tests of every normal build (tests/fuzz_replay/CMakeLists.txt). An entry is
# "NAME:layer,layer,...": fuzz/NAME.c defines LLVMFuzzerTestOneInput, its
# seeds are in fuzz/corpus/NAME/ and its saved crashes in
# fuzz/regressions/NAME/. Adding a target is adding a line here (see
# docs/SECURITY.md, "Fuzzing").
set(CVMBUS_FUZZ_TARGET_LIST
  "fuzz_wire_decode:wire"
  "fuzz_wire_envelope:wire"
  "fuzz_ring_reader:ring"
  "fuzz_attest_report:hw"
  "fuzz_vstor_completion:dev"
  "fuzz_rndis_nvsp:dev"
  "fuzz_server_messages:server"
  "fuzz_client_messages:client"
  "fuzz_channel_gpa:channel"
  "fuzz_hostlink:hw"
)

# cvmbus_fuzz_target_parse(ENTRY NAME_VAR LAYERS_VAR): splits one entry into
# the target name and the list of cvmbus_<layer> object libraries.
function(cvmbus_fuzz_target_parse entry name_var layers_var)
  string(REPLACE ":" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 layer_csv)
  string(REPLACE "," ";" layers "${layer_csv}")
  # The layers named and those they depend on (cvmbus_layer DEPS).
  cvmbus_layer_closure(layers ${layers})
  set(libs "")
  foreach(l ${layers})
    list(APPEND libs cvmbus_${l})
  endforeach()
  set(${name_var} ${name} PARENT_SCOPE)
  set(${layers_var} ${libs} PARENT_SCOPE)
endfunction()
