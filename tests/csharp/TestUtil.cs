// TestUtil.cs - what the small C# tests share: a failing check throws with
// what was expected, an exception is caught by type, and events are waited
// for by condition with a deadline (never a sleep).

using System;
using System.Collections.Generic;
using System.Diagnostics;
using Net;

static class TestUtil
{
    public static void Check(bool ok, string what)
    {
        if (!ok)
            throw new Exception("check failed: " + what);
    }

    // The exception of type T that action throws; anything else fails.
    public static T Throws<T>(Action action, string what) where T : Exception
    {
        try {
            action();
        } catch (T e) {
            return e;
        } catch (Exception e) {
            throw new Exception(what + ": expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message);
        }
        throw new Exception(what + ": expected " + typeof(T).Name + ", nothing thrown");
    }

    // Events polled while waiting for another: a later WaitFor looks here
    // first. Their payloads are gone (valid only until the next poll).
    static readonly List<NetEvent> parked = new List<NetEvent>();

    // The first event that matches pred, parked or polled from eng within
    // timeoutMs; data gets the payload of a polled one (null for a parked one).
    public static NetEvent WaitFor(Engine eng, Func<NetEvent, bool> pred, out byte[] data, int timeoutMs = 10000)
    {
        int at = parked.FindIndex(e => pred(e));
        if (at >= 0) {
            NetEvent e = parked[at];
            parked.RemoveAt(at);
            data = null;
            return e;
        }
        var buf = new NetEvent[64];
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs) {
            int n = eng.Poll(buf, 50);
            int hit = -1;
            for (int i = 0; i < n; i++) {
                if (hit < 0 && pred(buf[i]))
                    hit = i;
                else
                    parked.Add(buf[i]);
            }
            if (hit >= 0) {
                data = buf[hit].CopyData();
                return buf[hit];
            }
        }
        throw new Exception("timed out waiting for an event; parked: " + string.Join(", ", parked));
    }

    public static NetEvent WaitFor(Engine eng, Func<NetEvent, bool> pred)
    {
        byte[] data;
        return WaitFor(eng, pred, out data);
    }
}
