# Runs each benchmark binary in BENCHES (a comma-separated list) once, briefly, on the small sizes.
# Google Benchmark 1.7 takes --benchmark_min_time as a plain number of seconds.
#
# The small cases are the ones whose last size argument is 1, 100 or 1000 (match_bench
# BM_Match/100, pipeline_bench BM_PipelineRegexLabeling/100/100, actions_bench
# BM_WebhookActions/1/real_time, store_bench BM_JournalRun/1/real_time/threads:1). A binary in
# which the filter selects nothing fails the smoke run (Google Benchmark itself exits 0 then),
# so a renamed benchmark cannot silently drop out of it.
set(SMALL "/(1|100|1000)(/100)?(/real_time)?(/threads:1)?$")
string(REPLACE "," ";" BENCHES "${BENCHES}")
foreach(b IN LISTS BENCHES)
  execute_process(
    COMMAND ${b} --benchmark_list_tests=true "--benchmark_filter=${SMALL}"
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE selected)
  string(STRIP "${selected}" selected)
  if(NOT rc EQUAL 0 OR selected STREQUAL "")
    message(FATAL_ERROR "${b}: no benchmark matches the smoke filter ${SMALL} (exit ${rc})")
  endif()
  string(REPLACE "\n" ", " selected_list "${selected}")
  message(STATUS "${b}: ${selected_list}")
  execute_process(
    COMMAND ${b} --benchmark_min_time=0.01 "--benchmark_filter=${SMALL}"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${b} failed (exit ${rc})")
  endif()
endforeach()
