# knock_strict(target): the warnings knock's own tests, examples and benchmarks build with.
# Never applied to the INTERFACE target, so consumers keep their own flags.
function(knock_strict target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
    -fconcepts-diagnostics-depth=2)
endfunction()
