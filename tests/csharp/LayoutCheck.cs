// LayoutCheck.cs - prints what the C# declarations of bindings/csharp/Net.cs
// say about net.h, in the format of layout.c: "struct.member offset",
// "struct.sizeof size" (Marshal.SizeOf / Marshal.OffsetOf of every field, by
// reflection, so a field added here shows up without editing this file) and
// "const.NAME value" for every enum member. compare_layout.cmake compares it
// with layout.c's output (names compared without underscores and case).

using System;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Net;

static class LayoutCheck
{
    static readonly Type[] Structs = {
        typeof(NetAddr), typeof(NetEvent), typeof(NetConfig), typeof(NetStats), typeof(NetTcpConfig),
        typeof(NetUdpConfig), typeof(NetBuf), typeof(NetPackedEvent), typeof(NetRudpConfig), typeof(NetRudpStats)
    };

    // C# enum -> the C prefix of its constants.
    static readonly object[][] Enums = {
        new object[] { typeof(NetError), "NET_E_" },
        new object[] { typeof(EventType), "NET_EV_" },
        new object[] { typeof(AddrFamily), "NET_AF_" },
        new object[] { typeof(Backend), "NET_BACKEND_" },
        new object[] { typeof(Framing), "NET_FRAMING_" },
        new object[] { typeof(TcpFlags), "NET_TCP_" },
        new object[] { typeof(NetOption), "NET_OPT_" },
        new object[] { typeof(UdpFlags), "NET_UDP_" },
        new object[] { typeof(RudpMode), "NET_RUDP_" },
    };

    // "NetTcpConfig" -> "net_tcp_config", "ScopeId" -> "scope_id".
    static string Snake(string name)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < name.Length; i++) {
            char ch = name[i];
            if (char.IsUpper(ch) && i > 0 && !char.IsUpper(name[i - 1]))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(ch));
        }
        return sb.ToString();
    }

    static int Main()
    {
        foreach (Type t in Structs) {
            string s = Snake(t.Name);
            Console.WriteLine("{0}.sizeof {1}", s, Marshal.SizeOf(t));
            foreach (FieldInfo f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                Console.WriteLine("{0}.{1} {2}", s, Snake(f.Name), Marshal.OffsetOf(t, f.Name).ToInt64());
        }
        Console.WriteLine("const.NET_VERSION_MAJOR {0}", Native.VersionMajor);
        Console.WriteLine("const.NET_VERSION_MINOR {0}", Native.VersionMinor);
        Console.WriteLine("const.NET_VERSION_PATCH {0}", Native.VersionPatch);
        foreach (object[] e in Enums) {
            Type t = (Type)e[0];
            string prefix = (string)e[1];
            foreach (string name in Enum.GetNames(t)) {
                long value = Convert.ToInt64(Enum.Parse(t, name));
                if ((t == typeof(TcpFlags) || t == typeof(UdpFlags)) && value == 0)
                    continue; // Flags.None: C# only
                string c = t == typeof(NetError) && value == 0 ? "NET_OK" : prefix + Snake(name).ToUpperInvariant();
                Console.WriteLine("const.{0} {1}", c, value);
            }
        }
        // Every declared entry point resolves in the library (Prelink binds it
        // now: a missing or misspelt symbol throws EntryPointNotFoundException).
        int bad = 0;
        foreach (MethodInfo m in typeof(Native).GetMethods(BindingFlags.Public | BindingFlags.Static)) {
            if ((m.Attributes & MethodAttributes.PinvokeImpl) == 0)
                continue;
            try {
                Marshal.Prelink(m);
            } catch (Exception e) {
                Console.Error.WriteLine("{0}: {1}", m.Name, e.Message);
                bad++;
            }
        }
        if (bad != 0)
            return 1;
        // The library loaded really is the one these declarations describe.
        uint v = NetApi.Version;
        if ((v >> 16) != Native.VersionMajor || ((v >> 8) & 0xFF) < Native.VersionMinor) {
            Console.Error.WriteLine("library version {0:x} does not match the declarations", v);
            return 1;
        }
        return 0;
    }
}
