// ArgsTest.cs - every public wrapper method checks its arguments and blames
// the right one: a table of wrong calls, each with the exception type it must
// throw (exactly) and the parameter it must name, e.g. Send(c, buf, 5, 100)
// names "count", not "offset". Then, by reflection, every public method of
// NetApi and Engine that takes an argument it can check (a string, an array,
// a pointer, a config struct, a non-flags enum) must have a row in the table
// or a stated reason not to, so a new method cannot skip its checks unseen.
//
//   mono ArgsTest.exe

using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Net;
using static TestUtil;

static class ArgsTest
{
    class Case
    {
        public string Method;     // "NetApi.Send(UInt64,Byte[],Int32,Int32)"
        public Type Expected;     // the exact exception type
        public string Param;      // the name it must carry
        public Action Call;
    }

    static readonly List<Case> cases = new List<Case>();

    static void Row(string method, Type expected, string param, Action call)
    {
        cases.Add(new Case { Method = method, Expected = expected, Param = param, Call = call });
    }

    // Methods with a checkable parameter that accept every value of it.
    static readonly Dictionary<string, string> exempt = new Dictionary<string, string> {
        { "NetApi.Check(Int32,String)", "context is only text for the message" },
        { "NetApi.CheckWithOsError(Int32,String)", "context is only text for the message" },
        { "Engine.UdpOpen(String,UInt16,UdpFlags,UInt32,UInt32,UInt64)", "host null = any IPv4 address" },
        { "Engine.RudpListen(String,UInt16,UInt32,UInt64)", "host null = any IPv4 address" },
    };

    static void Table(Engine eng)
    {
        Type ane = typeof(ArgumentNullException), aoor = typeof(ArgumentOutOfRangeException), ae = typeof(ArgumentException);
        var five = new byte[5];
        var to = NetApi.AddrParse("127.0.0.1", 9);

        Row("NetApi.Send(UInt64,Byte[])", ane, "data", () => NetApi.Send(1, null));
        Row("NetApi.Send(UInt64,Byte[],Int32,Int32)", aoor, "count", () => NetApi.Send(1, five, 5, 100));
        Row("NetApi.Send(UInt64,Byte[],Int32,Int32)", aoor, "count", () => NetApi.Send(1, five, 0, -1));
        Row("NetApi.Send(UInt64,Byte[],Int32,Int32)", aoor, "offset", () => NetApi.Send(1, five, -1, 1));
        Row("NetApi.Send(UInt64,Byte[],Int32,Int32)", aoor, "offset", () => NetApi.Send(1, five, 6, 0));
        Row("NetApi.Send(UInt64,Byte[],Int32,Int32)", ane, "data", () => NetApi.Send(1, null, 0, 0));
        Row("NetApi.Send(UInt64,IntPtr,UInt32)", ane, "data", () => NetApi.Send(1, IntPtr.Zero, 5));
        Row("NetApi.TrySend(UInt64,IntPtr,UInt32)", ane, "data", () => NetApi.TrySend(1, IntPtr.Zero, 5));
        Row("NetApi.Broadcast(UInt64[],Byte[],Int32[])", ane, "conns", () => NetApi.Broadcast(null, five));
        Row("NetApi.Broadcast(UInt64[],Byte[],Int32[])", ane, "data", () => NetApi.Broadcast(new ulong[1], null));
        Row("NetApi.Broadcast(UInt64[],Byte[],Int32[])", ae, "results",
            () => NetApi.Broadcast(new ulong[2], five, new int[1]));
        Row("NetApi.SetOption(UInt64,NetOption,Int64)", aoor, "option", () => NetApi.SetOption(1, (NetOption)999, 1));
        Row("NetApi.GetOption(UInt64,NetOption)", aoor, "option", () => NetApi.GetOption(1, (NetOption)0));
        Row("NetApi.AddrParse(String,UInt16)", ane, "host", () => NetApi.AddrParse(null, 9));
        Row("NetApi.AddrParse(String)", ane, "address", () => NetApi.AddrParse(null));
        Row("NetApi.AddrParse(String)", ae, "address", () => NetApi.AddrParse("127.0.0.1"));
        Row("NetApi.AddrParse(String)", ae, "address", () => NetApi.AddrParse("::1:7000"));
        Row("NetApi.AddrParse(String)", ae, "address", () => NetApi.AddrParse("[::1]:70000"));
        Row("NetApi.AddrParse(String)", ae, "address", () => NetApi.AddrParse(":7000"));
        Row("NetApi.UdpConnect(UInt64,String,UInt16)", ane, "host", () => NetApi.UdpConnect(1, null, 9));
        Row("NetApi.UdpConnect(UInt64,String)", ae, "address", () => NetApi.UdpConnect(1, "localhost"));
        Row("NetApi.SendTo(UInt64,NetAddr,Byte[])", ane, "data", () => NetApi.SendTo(1, to, (byte[])null));
        Row("NetApi.SendTo(UInt64,NetAddr,Byte[],Int32,Int32)", aoor, "count", () => NetApi.SendTo(1, to, five, 5, 100));
        Row("NetApi.SendTo(UInt64,NetAddr,Byte[],Int32,Int32)", aoor, "offset", () => NetApi.SendTo(1, to, five, 9, 0));
        Row("NetApi.SendTo(UInt64,NetAddr,IntPtr,UInt32)", ane, "data", () => NetApi.SendTo(1, to, IntPtr.Zero, 3));
        Row("NetApi.SendTo(UInt64,String,Byte[])", ane, "address", () => NetApi.SendTo(1, (string)null, five));
        Row("NetApi.SendTo(UInt64,String,Byte[])", ane, "data", () => NetApi.SendTo(1, "127.0.0.1:9", null));
        Row("NetApi.SendTo(UInt64,String,UInt16,Byte[])", ane, "host", () => NetApi.SendTo(1, null, 9, five));
        Row("NetApi.TrySendTo(UInt64,NetAddr,IntPtr,UInt32)", ane, "data", () => NetApi.TrySendTo(1, to, IntPtr.Zero, 3));

        Row("Engine..ctor(Backend,UInt32)", aoor, "backend", () => new Engine((Backend)77));
        Row("Engine..ctor(NetConfig)", ae, "config", () => new Engine(default(NetConfig)));
        Row("Engine.Poll(NetEvent[],Int32)", ane, "events", () => eng.Poll(null, 0));
        Row("Engine.Poll(NetEvent[],Int32)", ae, "events", () => eng.Poll(new NetEvent[0], 0));
        Row("Engine.Poll(NetEvent[],Int32)", aoor, "timeoutMs", () => eng.Poll(new NetEvent[4], -5));
        Row("Engine.Listen(String,UInt16,Framing,TcpFlags,UInt32,UInt64)", aoor, "framing",
            () => eng.Listen("127.0.0.1", 0, (Framing)9));
        Row("Engine.Listen(String,UInt16,NetTcpConfig&)", ae, "cfg", () => {
            var cfg = default(NetTcpConfig);
            eng.Listen("127.0.0.1", 0, ref cfg);
        });
        Row("Engine.Listen(String)", ane, "address", () => eng.Listen((string)null));
        Row("Engine.Listen(String)", ae, "address", () => eng.Listen("127.0.0.1"));
        Row("Engine.Listen(NetAddr,Framing,TcpFlags,UInt32,UInt64)", ae, "addr", () => eng.Listen(default(NetAddr)));
        Row("Engine.Connect(String,UInt16,Framing,TcpFlags,UInt32,UInt64)", ane, "host", () => eng.Connect(null, 9));
        Row("Engine.Connect(String,UInt16,Framing,TcpFlags,UInt32,UInt64)", aoor, "framing",
            () => eng.Connect("127.0.0.1", 9, (Framing)5));
        Row("Engine.Connect(String)", ae, "address", () => eng.Connect("[::1]"));
        Row("Engine.Connect(NetAddr,Framing,TcpFlags,UInt32,UInt64)", ae, "addr", () => eng.Connect(default(NetAddr)));
        Row("Engine.Connect(NetAddr,Framing,TcpFlags,UInt32,UInt64)", aoor, "framing",
            () => eng.Connect(to, (Framing)5));
        Row("Engine.UdpOpen(String,UInt16,NetUdpConfig&)", ae, "cfg", () => {
            var cfg = default(NetUdpConfig);
            eng.UdpOpen("127.0.0.1", 0, ref cfg);
        });
        Row("Engine.UdpOpen(String)", ae, "address", () => eng.UdpOpen("127.0.0.1:x"));
        Row("Engine.RudpListen(String,UInt16,NetRudpConfig&)", ae, "cfg", () => {
            var cfg = default(NetRudpConfig);
            eng.RudpListen("127.0.0.1", 0, ref cfg);
        });
        Row("Engine.RudpConnect(String,UInt16,UInt32,UInt64)", ane, "host", () => eng.RudpConnect(null, 9));
        Row("Engine.RudpConnect(String,UInt16,NetRudpConfig&)", ane, "host", () => {
            var cfg = Engine.DefaultRudpConfig();
            eng.RudpConnect(null, 9, ref cfg);
        });
        Row("Engine.RudpConnect(String,UInt16,NetRudpConfig&)", ae, "cfg", () => {
            var cfg = default(NetRudpConfig);
            eng.RudpConnect("127.0.0.1", 9, ref cfg);
        });
        Row("Engine.RudpConnect(String)", ae, "address", () => eng.RudpConnect("127.0.0.1:x"));
        Row("NetApi.RudpSend(UInt64,UInt32,RudpMode,Byte[])", ane, "data",
            () => NetApi.RudpSend(1, 0, RudpMode.ReliableOrdered, null));
        Row("NetApi.RudpSend(UInt64,UInt32,RudpMode,Byte[])", aoor, "mode", () => NetApi.RudpSend(1, 0, (RudpMode)9, five));
        Row("NetApi.RudpSend(UInt64,UInt32,RudpMode,Byte[],Int32,Int32)", aoor, "count",
            () => NetApi.RudpSend(1, 0, RudpMode.Unreliable, five, 0, 6));
        Row("NetApi.RudpSend(UInt64,UInt32,RudpMode,Byte[],Int32,Int32)", aoor, "mode",
            () => NetApi.RudpSend(1, 0, (RudpMode)9, five, 0, 5));
    }

    static string Signature(MethodBase m)
    {
        return m.DeclaringType.Name + "." + m.Name + "(" +
               string.Join(",", m.GetParameters().Select(p => p.ParameterType.Name)) + ")";
    }

    static bool Checkable(Type t)
    {
        if (t.IsByRef) t = t.GetElementType();
        if (t.IsEnum) return !t.IsDefined(typeof(FlagsAttribute), false);
        return t == typeof(string) || t.IsArray || t == typeof(IntPtr) || t == typeof(NetConfig) ||
               t == typeof(NetTcpConfig) || t == typeof(NetUdpConfig) || t == typeof(NetRudpConfig) ||
               t == typeof(NetAddr);
    }

    static IEnumerable<MethodBase> Wrappers()
    {
        const BindingFlags pub = BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (Type t in new[] { typeof(NetApi), typeof(Engine) }) {
            foreach (MethodInfo m in t.GetMethods(pub))
                if (!m.IsSpecialName)
                    yield return m;
            foreach (ConstructorInfo c in t.GetConstructors())
                yield return c;
        }
    }

    static int Main()
    {
        int failed = 0;
        using (var eng = new Engine()) {
            Table(eng);
            foreach (Case c in cases) {
                try {
                    c.Call();
                    throw new Exception("nothing thrown");
                } catch (Exception e) {
                    var a = e as ArgumentException;
                    if (e.GetType() != c.Expected || a == null || a.ParamName != c.Param) {
                        Console.WriteLine("FAIL {0}: expected {1}({2}), got {3}({4}): {5}", c.Method, c.Expected.Name,
                                          c.Param, e.GetType().Name, a != null ? a.ParamName : "-", e.Message);
                        failed++;
                    }
                }
            }
        }
        var covered = new HashSet<string>(cases.Select(c => c.Method));
        foreach (string row in covered.Where(m => !Wrappers().Any(w => Signature(w) == m))) {
            Console.WriteLine("FAIL table row for a method that does not exist: {0}", row);
            failed++;
        }
        foreach (MethodBase m in Wrappers()) {
            string sig = Signature(m);
            if (m.GetParameters().Any(p => Checkable(p.ParameterType)) && !covered.Contains(sig) && !exempt.ContainsKey(sig)) {
                Console.WriteLine("FAIL no argument-check row for {0}", sig);
                failed++;
            }
        }
        Console.WriteLine("{0} wrong calls over {1} methods, {2} failed", cases.Count, covered.Count, failed);
        return failed == 0 ? 0 : 1;
    }
}
