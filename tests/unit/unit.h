/* unit.h - tiny helpers shared by the unit tests of the pure core (no engine,
 * no sockets): checks, a seeded PRNG, a thread wrapper and, under
 * AddressSanitizer, an allocation watcher. Portable C11 (POSIX and Windows). */
#ifndef NET_UNIT_H
#define NET_UNIT_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            unit_failures++;                                                         \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                                      \
    do {                                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                                 \
        if (a_ != b_) {                                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b, \
                    a_, b_);                                                                                \
            unit_failures++;                                                                                \
        }                                                                                                   \
    } while (0)

/* Stops the test at once: the following code depends on cond. */
#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* Too many failures in a loop only bury the first one. */
#define UNIT_BAIL_IF_NOISY()                                              \
    do {                                                                  \
        if (unit_failures > 50) {                                         \
            fprintf(stderr, "too many failures, stopping\n");             \
            exit(1);                                                      \
        }                                                                 \
    } while (0)

static inline int unit_done(const char *name)
{
    if (unit_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, unit_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* ---- PRNG: splitmix64, seeded from UNIT_SEED or a fixed default ---- */
static uint64_t unit_rng_state;

static inline uint64_t unit_rand(void)
{
    uint64_t z = (unit_rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform-ish in [0, n); n > 0. */
static inline uint32_t unit_below(uint32_t n)
{
    return (uint32_t)(unit_rand() % n);
}

static inline void unit_seed(void)
{
    const char *s = getenv("UNIT_SEED");
    unit_rng_state = s && *s ? strtoull(s, NULL, 0) : 0x6E65745F756E6974ull;
    printf("UNIT_SEED=0x%016" PRIx64 "\n", unit_rng_state);
}

/* ---- threads ---- */
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
typedef struct unit_thread {
    HANDLE h;
    void (*fn)(void *);
    void *arg;
} unit_thread;
static inline DWORD WINAPI unit_thread_tramp(LPVOID p)
{
    unit_thread *t = p;
    t->fn(t->arg);
    return 0;
}
static inline int unit_thread_start(unit_thread *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(NULL, 0, unit_thread_tramp, t, 0, NULL);
    return t->h ? 0 : -1;
}
static inline void unit_thread_join(unit_thread *t)
{
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
}
#else
#include <pthread.h>
typedef struct unit_thread {
    pthread_t h;
    void (*fn)(void *);
    void *arg;
} unit_thread;
static inline void *unit_thread_tramp(void *p)
{
    unit_thread *t = p;
    t->fn(t->arg);
    return NULL;
}
static inline int unit_thread_start(unit_thread *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    return pthread_create(&t->h, NULL, unit_thread_tramp, t) == 0 ? 0 : -1;
}
static inline void unit_thread_join(unit_thread *t)
{
    pthread_join(t->h, NULL);
}
#endif

/* ---- allocation watcher (AddressSanitizer builds only) ----
 * unit_alloc_watch_begin() resets the largest single allocation seen;
 * unit_alloc_largest() returns it. Without ASan, unit_alloc_watching is 0 and
 * the tests fall back to checking return codes and decoder state. */
#if defined(__SANITIZE_ADDRESS__)
#define UNIT_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNIT_HAVE_ASAN 1
#endif
#endif

#ifdef UNIT_HAVE_ASAN
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static volatile size_t unit_alloc_max;
static inline void unit_malloc_hook(const volatile void *p, size_t size)
{
    (void)p;
    if (size > unit_alloc_max)
        unit_alloc_max = size;
}
static inline void unit_free_hook(const volatile void *p)
{
    (void)p;
}
static int unit_alloc_watching;
static inline void unit_alloc_watch_begin(void)
{
    if (!unit_alloc_watching)
        unit_alloc_watching = __sanitizer_install_malloc_and_free_hooks(unit_malloc_hook, unit_free_hook) != 0;
    unit_alloc_max = 0;
}
static inline size_t unit_alloc_largest(void)
{
    return unit_alloc_max;
}
#else
static const int unit_alloc_watching = 0;
static inline void unit_alloc_watch_begin(void)
{
}
static inline size_t unit_alloc_largest(void)
{
    return 0;
}
#endif

#endif
