/*
 * lsys.c - require "net.sys": the few services of the host process that
 * scripts running an engine need and Lua lacks, kept apart from the "net"
 * table because net.h has nothing of the kind:
 *
 *   sys.now()            monotonic clock, seconds as a float
 *   sys.thread_cpu()     CPU time of the calling thread, seconds as a float
 *                        (a tick's own cost, apart from preemption and I/O threads)
 *   sys.catch(name, ...) "INT", "TERM", "HUP", "BREAK": note these signals
 *   sys.caught()         name of the first noted signal, or nil
 *
 * The handler only sets a flag (nothing else is async-signal-safe); a
 * script checks sys.caught() between polls, as samples/echo_server.c does
 * with its own flag. A blocking poll looks at the flag too (it waits in
 * slices) and returns early once it is set, so even e:poll(-1) ends.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#    define _POSIX_C_SOURCE 200809L
#endif

#include <signal.h>
#include <string.h>

#ifdef _WIN32
#    define WIN32_LEAN_AND_MEAN
#    include <windows.h>
#else
#    include <time.h>
#endif

#include "lnet.h"

static volatile sig_atomic_t g_caught = 0;

typedef struct sig_name {
    const char *name;
    int sig;
} sig_name;

static const sig_name signals[] = {{"INT", SIGINT},
                                   {"TERM", SIGTERM},
#ifdef SIGHUP
                                   {"HUP", SIGHUP},
#endif
#ifdef SIGBREAK
                                   {"BREAK", SIGBREAK},
#endif
                                   {NULL, 0}};

static void on_signal(int sig)
{
    if (!g_caught)
        g_caught = sig;
}

int64_t lnet_now_ms(void)
{
#ifdef _WIN32
    return (int64_t)GetTickCount64();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

int lnet_signal_noted(void)
{
    return g_caught != 0;
}

static int l_now(lua_State *L)
{
#ifdef _WIN32
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    lua_pushnumber(L, (lua_Number)t.QuadPart / (lua_Number)freq.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
#endif
    return 1;
}

static int l_thread_cpu(lua_State *L)
{
#ifdef _WIN32
    FILETIME created, exited, kernel, user;
    if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user))
        return 0;
    ULARGE_INTEGER k, u;
    k.LowPart = kernel.dwLowDateTime;
    k.HighPart = kernel.dwHighDateTime;
    u.LowPart = user.dwLowDateTime;
    u.HighPart = user.dwHighDateTime;
    lua_pushnumber(L, (lua_Number)(k.QuadPart + u.QuadPart) * 1e-7);
#else
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
#endif
    return 1;
}

static int l_catch(lua_State *L)
{
    int top = lua_gettop(L);
    for (int i = 1; i <= top; i++) {
        const char *name = lnet_checklstring(L, i, NULL);
        const sig_name *s = signals;
        while (s->name && strcmp(s->name, name) != 0)
            s++;
        if (!s->name)
            return lnet_argerror(L, i, lua_pushfstring(L, "unknown signal '%s'", name));
        signal(s->sig, on_signal);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_caught(lua_State *L)
{
    int sig = g_caught;
    for (const sig_name *s = signals; sig && s->name; s++) {
        if (s->sig == sig) {
            lua_pushstring(L, s->name);
            return 1;
        }
    }
    lua_pushnil(L);
    return 1;
}

static const luaL_Reg sys_funcs[] = {
    {"now", l_now}, {"thread_cpu", l_thread_cpu}, {"catch", l_catch}, {"caught", l_caught}, {NULL, NULL}};

LNET_EXPORT int luaopen_net_sys(lua_State *L)
{
    luaL_checkversion(L);
    luaL_newlib(L, sys_funcs);
    lnet_name_functions(L, -1, "net.sys.");
    return 1;
}
