# The runnable examples of the documentation, built and run as tests: the
# code is extracted from the markdown at build time (extract-doc-example.cmake),
# so the page cannot drift from what compiles. ctest: docs.<page>.<example>.
function(net_doc_example page name)
  set(doc ${PROJECT_SOURCE_DIR}/docs/${page}.md)
  set(src ${PROJECT_BINARY_DIR}/docs/${page}-${name}.c)
  add_custom_command(OUTPUT ${src}
    COMMAND ${CMAKE_COMMAND} -DDOC=${doc} -DNAME=${name} -DOUT=${src}
            -P ${PROJECT_SOURCE_DIR}/cmake/extract-doc-example.cmake
    DEPENDS ${doc} ${PROJECT_SOURCE_DIR}/cmake/extract-doc-example.cmake
    COMMENT "Extracting example '${name}' from docs/${page}.md")
  set(target doc_${page}_${name})
  string(MAKE_C_IDENTIFIER ${target} target)
  add_executable(${target} ${src})
  target_link_libraries(${target} PRIVATE net::net)
  if(WIN32)
    # Next to net.dll, so the loader (Windows or Wine) finds it.
    set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
    if(MINGW)
      target_link_options(${target} PRIVATE -static-libgcc)
    endif()
  endif()
  add_test(NAME docs.${page}.${name} COMMAND ${target})
  set_tests_properties(docs.${page}.${name} PROPERTIES TIMEOUT 60 LABELS "docs")
endfunction()

net_doc_example(api-c echo)
net_doc_example(api-c rudp)
