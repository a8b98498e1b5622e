/* testhooks.c - see testhooks.h; compiled into test builds only. */
#include "testhooks.h"

#include <stdatomic.h>
#include <string.h>
#include "os.h"

/* Atomics: an engine being created (re)loads these while the I/O threads
 * of other engines consult them. */
static atomic_long g_alloc_calls;
static atomic_long g_alloc_fail_at; /* 0 = never */

typedef struct fault_site {
    atomic_int os_error; /* 0 = off */
    atomic_long every;
    atomic_long calls;
} fault_site;

static fault_site g_sites[NET_FAULT_SITES];
static const char *const g_site_names[NET_FAULT_SITES] = {"accept", "send", "recv", "submit"};

const char *net__test_env(const char *name)
{
    return os_getenv(name);
}

void net__faults_load(void)
{
    const char *n = os_getenv("NET_TEST_FAIL_ALLOC");
    atomic_store(&g_alloc_fail_at, n ? strtol(n, NULL, 10) : 0);
    atomic_store(&g_alloc_calls, 0);
    for (int i = 0; i < NET_FAULT_SITES; i++) {
        atomic_store(&g_sites[i].os_error, 0);
        atomic_store(&g_sites[i].every, 0);
        atomic_store(&g_sites[i].calls, 0);
    }
    const char *spec = os_getenv("NET_TEST_FAULT");
    while (spec && *spec) { /* site=ERR/K[,site=ERR/K...] */
        const char *eq = strchr(spec, '='), *slash = eq ? strchr(eq, '/') : NULL;
        if (!eq || !slash)
            return;
        char err[32];
        size_t elen = (size_t)(slash - eq - 1);
        if (elen >= sizeof err)
            return;
        memcpy(err, eq + 1, elen);
        err[elen] = 0;
        char *end;
        long every = strtol(slash + 1, &end, 10);
        for (int i = 0; i < NET_FAULT_SITES; i++)
            if (strlen(g_site_names[i]) == (size_t)(eq - spec) &&
                strncmp(spec, g_site_names[i], (size_t)(eq - spec)) == 0) {
                atomic_store(&g_sites[i].every, every > 0 ? every : 1);
                atomic_store(&g_sites[i].os_error, os_error_by_name(err));
            }
        spec = *end == ',' ? end + 1 : end + strlen(end);
    }
}

int net__fault(int site)
{
    fault_site *f = &g_sites[site];
    int os_error = atomic_load_explicit(&f->os_error, memory_order_relaxed);
    long every = atomic_load_explicit(&f->every, memory_order_relaxed);
    if (!os_error || every <= 0)
        return 0;
    return (atomic_fetch_add(&f->calls, 1) + 1) % every == 0 ? os_error : 0;
}

static int alloc_fails(void)
{
    long at = atomic_load_explicit(&g_alloc_fail_at, memory_order_relaxed);
    return at > 0 && atomic_fetch_add(&g_alloc_calls, 1) + 1 == at;
}

void *net__malloc(size_t n)
{
    return alloc_fails() ? NULL : malloc(n);
}

void *net__calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : calloc(n, size);
}

void *net__realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : realloc(p, n);
}
