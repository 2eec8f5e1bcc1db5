# Generates a C++ source defining `std::string_view NAME()` that returns the file IN.
file(READ ${IN} text)
set(body "// Generated from ${IN}. Do not edit.\n#include <string_view>\nnamespace finops::cp {\nstd::string_view ${NAME}() {\n  static constexpr std::string_view kText = R\"FINOPS_TXT(${text})FINOPS_TXT\";\n  return kText;\n}\n}  // namespace finops::cp\n")
file(WRITE ${OUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
