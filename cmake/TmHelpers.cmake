# Shared target settings. Kept small: warnings, and one torch PCH reused by every torch target.

function(tm_defaults target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${TM_WARNINGS}>)
endfunction()

# One PCH of <torch/torch.h> (568 MB, ~25 s) built once and reused: a PUBLIC or per-target PCH
# would make every consumer build its own copy (shared/spec/build-environment.md, section 2).
if(TM_PCH)
  add_library(tm_torch_pch OBJECT EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/torch_pch.cpp)
  target_link_libraries(tm_torch_pch PRIVATE ${TORCH_LIBRARIES})
  target_precompile_headers(tm_torch_pch PRIVATE <torch/torch.h>)
  tm_defaults(tm_torch_pch)
endif()

function(tm_use_torch_pch target)
  if(TM_PCH)
    target_precompile_headers(${target} REUSE_FROM tm_torch_pch)
  endif()
endfunction()
