# plugvm_vm_test(NAME name NEED kvm|hw LABELS l... TIMEOUT s [ENVIRONMENT e...] COMMAND cmd...)
# A test that runs VMs. Its command goes through tests/vmhost/run.sh, which
# runs it directly where this host's KVM will do (NEED kvm: any usable KVM,
# for the freestanding test guest; NEED hw: guest kernel code run in
# hardware, for Linux guests) and otherwise inside the nested VM host
# (QEMU TCG with SVM). It also gets the label `vm`, which scripts/test.sh
# runs as one batch (tests/vmhost/ctest-batch.sh: one outer boot for all).
# 77 is a skip, for what the host really lacks.
function(plugvm_vm_test)
  cmake_parse_arguments(T "" "NAME;NEED;TIMEOUT" "LABELS;ENVIRONMENT;COMMAND" ${ARGN})
  if(NOT T_NEED MATCHES "^(kvm|hw)$")
    message(FATAL_ERROR "plugvm_vm_test(${T_NAME}): NEED must be kvm or hw")
  endif()
  add_test(NAME ${T_NAME} COMMAND ${PROJECT_SOURCE_DIR}/tests/vmhost/run.sh --need ${T_NEED}
    ${PROJECT_BINARY_DIR} ${T_COMMAND})
  set_tests_properties(${T_NAME} PROPERTIES SKIP_RETURN_CODE 77 LABELS "vm;${T_LABELS}"
    TIMEOUT ${T_TIMEOUT})
  if(T_ENVIRONMENT)
    set_tests_properties(${T_NAME} PROPERTIES ENVIRONMENT "${T_ENVIRONMENT}")
  endif()
endfunction()
