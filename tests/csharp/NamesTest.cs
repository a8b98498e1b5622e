// NamesTest.cs - the names every binding shares: an engine ends with Close()
// (Lua e:close(), Python engine.close()), Dispose() is the same for `using`,
// a second Close or Dispose does nothing, and after either every call throws
// ObjectDisposedException. Events and errors print by name.
//
//   mono NamesTest.exe

using System;
using Net;
using static TestUtil;

static class NamesTest
{
    static void AfterEnd(Engine eng, string how)
    {
        Check(eng.IsClosed && eng.Handle == 0, how + ": IsClosed");
        var events = new NetEvent[4];
        var calls = new Action[] {
            () => eng.Poll(events, 0), () => eng.Post(1), () => eng.Wakeup(), () => eng.Stats(),
            () => eng.Listen("127.0.0.1", 0), () => eng.Connect("127.0.0.1:9"), () => eng.UdpOpen("127.0.0.1:0"),
            () => eng.StartTimer(1), () => { string b = eng.BackendName; },
        };
        foreach (Action call in calls) {
            var e = Throws<ObjectDisposedException>(call, "a call after " + how);
            Check(e.ObjectName == "Engine", "ObjectDisposedException names the Engine: " + e.ObjectName);
        }
        eng.Close();
        eng.Dispose();
        Console.WriteLine("after {0}: {1} calls throw ObjectDisposedException; Close and Dispose again do nothing",
                          how, calls.Length);
    }

    static void EventsPrintByName()
    {
        using (var eng = new Engine()) {
            ulong timer = eng.StartTimer(1, 0, 42);
            NetEvent t = WaitFor(eng, e => e.Type == EventType.Timer);
            Check(t.ToString().StartsWith("Timer handle=0x" + timer.ToString("x")), "a timer event prints " + t);
            eng.Post(7);
            NetEvent u = WaitFor(eng, e => e.Type == EventType.User);
            Check(u.ToString().StartsWith("User "), "a posted event prints " + u);
            ulong conn = eng.Connect("127.0.0.1", 1);
            NetEvent c = WaitFor(eng, e => e.Handle == conn && (e.Type == EventType.Connect || e.Type == EventType.Close));
            Check(c.ToString().Contains("status=Refused"), "a refused connect prints its error by name: " + c);
            var x = Throws<NetException>(() => NetApi.Close(conn), "closing a dead handle");
            Check(x.Code == NetError.BadHandle && x.Message.Contains("BadHandle"), "NetException names the code: " + x.Message);
            Console.WriteLine("events print by name: {0} | {1} | {2}", t, u, c);
        }
    }

    static int Main()
    {
        var closed = new Engine();
        closed.Close();
        AfterEnd(closed, "Close()");
        var disposed = new Engine();
        using (disposed) { }
        AfterEnd(disposed, "Dispose()");
        EventsPrintByName();
        return 0;
    }
}
