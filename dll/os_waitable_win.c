/* os_waitable_win.c - the waitable of net_engine_waitable on Windows: a
 * manual-reset event another loop waits on (WaitForSingleObject,
 * RegisterWaitForSingleObject), and a thread-pool timer for the engine's
 * next deadline. An event has no timer of its own to fold in, so the pool
 * timer calls back into the core (due), which raises the event the way an
 * arriving event does. No thread of ours: the pool's timer thread serves
 * every process-wide timer. */
#ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#endif
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0601
#    undef _WIN32_WINNT
#    define _WIN32_WINNT 0x0601
#endif
#include <windows.h>
#include <stdlib.h>
#include "os.h"

struct os_waitable {
    HANDLE event;
    PTP_TIMER timer;
    void (*due)(void *);
    void *arg;
};

static VOID CALLBACK timer_fired(PTP_CALLBACK_INSTANCE instance, PVOID ctx, PTP_TIMER timer)
{
    (void)instance;
    (void)timer;
    os_waitable *w = ctx;
    w->due(w->arg);
}

int os_waitable_open(os_waitable **out, void (*due)(void *), void *arg)
{
    os_waitable *w = calloc(1, sizeof *w);
    if (!w)
        return NET_E_NOMEM;
    w->due = due;
    w->arg = arg;
    w->event = CreateEventW(NULL, TRUE, FALSE, NULL);
    w->timer = w->event ? CreateThreadpoolTimer(timer_fired, w, NULL) : NULL;
    if (!w->timer) {
        if (w->event)
            CloseHandle(w->event);
        free(w);
        return NET_E_OS;
    }
    *out = w;
    return 0;
}

intptr_t os_waitable_handle(const os_waitable *w)
{
    return (intptr_t)w->event;
}

int os_waitable_watch(os_waitable *w, intptr_t pollable)
{
    (void)w;
    (void)pollable;
    return NET_E_UNSUPPORTED;
}

void os_waitable_raise(os_waitable *w)
{
    SetEvent(w->event);
}

void os_waitable_clear(os_waitable *w)
{
    ResetEvent(w->event);
}

/* A relative due time (negative, in 100 ns units) measured from now on the
 * same clock as os_now_ms; 0 expires at once. */
void os_waitable_deadline(os_waitable *w, uint64_t deadline_ms)
{
    if (deadline_ms == UINT64_MAX) {
        SetThreadpoolTimer(w->timer, NULL, 0, 0);
        return;
    }
    uint64_t now = os_now_ms();
    uint64_t in_ms = deadline_ms > now ? deadline_ms - now : 0;
    ULARGE_INTEGER rel;
    rel.QuadPart = (ULONGLONG)(-(LONGLONG)(in_ms * 10000u));
    FILETIME ft;
    ft.dwLowDateTime = rel.LowPart;
    ft.dwHighDateTime = rel.HighPart;
    SetThreadpoolTimer(w->timer, &ft, 0, 0);
}

void os_waitable_close(os_waitable *w)
{
    if (!w)
        return;
    SetThreadpoolTimer(w->timer, NULL, 0, 0);
    WaitForThreadpoolTimerCallbacks(w->timer, TRUE);
    CloseThreadpoolTimer(w->timer);
    CloseHandle(w->event);
    free(w);
}
