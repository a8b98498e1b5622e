/*
 * testhooks.h - what only test builds compile in (CMake NET_TEST_HOOKS):
 * settings read from the environment, and fault injection. A production
 * library has none of it; not even the variable names are in the binary.
 *
 * Faults, read at every net_engine_create (so a test can change them
 * between engines):
 *   NET_TEST_FAIL_ALLOC=N       the Nth allocation after that create fails
 *                               (once; 0 or unset: none)
 *   NET_TEST_FAULT=site=ERR/K,...  every Kth call at site fails with ERR
 *                               (an errno name: EMFILE, ENFILE, ENOBUFS,
 *                               ECONNRESET, EBUSY, EAGAIN, EPERM); sites: accept,
 *                               send, recv, submit (io_uring's io_uring_enter)
 */
#ifndef NET_TESTHOOKS_H
#define NET_TESTHOOKS_H

#include <stdlib.h>

enum { NET_FAULT_ACCEPT, NET_FAULT_SEND, NET_FAULT_RECV, NET_FAULT_SUBMIT, NET_FAULT_SITES };

#ifdef NET_TEST_HOOKS
const char *net__test_env(const char *name);
void net__faults_load(void);
/* The OS error to fail this call at site with, or 0 to make it. */
int net__fault(int site);
void *net__malloc(size_t n);
void *net__calloc(size_t n, size_t size);
void *net__realloc(void *p, size_t n);
#else
#    define net__test_env(name) ((void)(name), (const char *)NULL)
#    define net__faults_load() ((void)0)
#    define net__fault(site) 0
#    define net__malloc malloc
#    define net__calloc calloc
#    define net__realloc realloc
#endif

#endif
