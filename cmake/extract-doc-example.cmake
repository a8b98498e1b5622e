# cmake -DDOC=<file.md> -DNAME=<example> -DOUT=<file.c> -P extract-doc-example.cmake
#
# Writes the code block that follows the marker line
#     <!-- example: NAME -->
# in DOC (the first ``` fence after it, up to the closing ```) to OUT, so the
# example a reader copies is the one the tests compile and run.
foreach(var DOC NAME OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "extract-doc-example: -D${var}=... is required")
  endif()
endforeach()
file(READ "${DOC}" text)
set(marker "<!-- example: ${NAME} -->")
string(FIND "${text}" "${marker}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${DOC}: no line '${marker}'")
endif()
string(SUBSTRING "${text}" ${at} -1 text)
string(FIND "${text}" "\n```" open)
if(open EQUAL -1)
  message(FATAL_ERROR "${DOC}: no ``` fence after '${marker}'")
endif()
math(EXPR open "${open} + 4")
string(SUBSTRING "${text}" ${open} -1 text)
# Past the rest of the opening fence line (its language tag).
string(FIND "${text}" "\n" eol)
math(EXPR eol "${eol} + 1")
string(SUBSTRING "${text}" ${eol} -1 text)
string(FIND "${text}" "\n```" close)
if(close EQUAL -1)
  message(FATAL_ERROR "${DOC}: the example '${NAME}' has no closing ``` fence")
endif()
math(EXPR close "${close} + 1")
string(SUBSTRING "${text}" 0 ${close} code)
file(WRITE "${OUT}" "${code}")
