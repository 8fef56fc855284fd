# Runs each benchmark binary in BENCHES (a comma-separated list) once, briefly, on the small sizes.
# Google Benchmark 1.7 takes --benchmark_min_time as a plain number of seconds.
string(REPLACE "," ";" BENCHES "${BENCHES}")
foreach(b IN LISTS BENCHES)
  execute_process(
    COMMAND ${b} --benchmark_min_time=0.01 "--benchmark_filter=/(100|1000)(/100)?$"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${b} failed (exit ${rc})")
  endif()
endforeach()
