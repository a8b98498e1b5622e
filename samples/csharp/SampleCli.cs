// SampleCli.cs - the common sample command line of docs/CONVENTIONS.md, as
// samples/cli.c parses it: --port --host --framing --length-includes-header
// --backend --io-threads --max-message --seconds, "--name value" or
// "--name=value"; a program adds its own options through `extra`. A bad or
// unknown option prints the usage to stderr and exits 2.

using System;
using System.Collections.Generic;
using System.Globalization;
using Net;

sealed class SampleCli
{
    public string Host = "127.0.0.1";
    public ushort Port = 7000;
    public Framing Framing = Framing.Raw;
    public bool LengthIncludesHeader;
    public Backend Backend = Backend.Auto;
    public uint IoThreads;
    public uint MaxMessage = 1048576;
    public double Seconds;

    static readonly string[] framings = { "raw", "u16le", "u16be", "u32le", "u32be" };
    static readonly string[] backends = { "auto", "epoll", "io_uring", "iocp" };

    public static string FramingName(Framing f) { return framings[(int)f]; }

    readonly string usage;
    readonly bool portMayBeZero;

    public SampleCli(string usage, bool portMayBeZero)
    {
        this.usage = usage;
        this.portMayBeZero = portMayBeZero;
    }

    public void Usage(string why)
    {
        if (why != null)
            Console.Error.WriteLine(why);
        Console.Error.WriteLine("usage: " + usage);
        Environment.Exit(2);
    }

    public static uint ParseUint(string s, uint max, out bool ok)
    {
        uint v;
        ok = uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v <= max;
        return v;
    }

    // Parses args; extra(name, value) takes the program's own options and
    // returns false for an unknown or bad one.
    public void Parse(string[] args, Func<string, string, bool> extra)
    {
        for (int i = 0; i < args.Length; i++) {
            string name = args[i], val = null;
            int eq = name.IndexOf('=');
            if (eq > 0) {
                val = name.Substring(eq + 1);
                name = name.Substring(0, eq);
            }
            if (name == "--help" || name == "-h")
                Usage(null);
            if (name == "--length-includes-header") {
                LengthIncludesHeader = true;
                continue;
            }
            if (val == null) {
                if (i + 1 >= args.Length)
                    Usage(name + " needs a value");
                val = args[++i];
            }
            if (!Option(name, val) && (extra == null || !extra(name, val)))
                Usage("bad option: " + name + " " + val);
        }
    }

    bool Option(string name, string val)
    {
        bool ok;
        switch (name) {
        case "--port":
            Port = (ushort)ParseUint(val, 65535, out ok);
            return ok && (Port != 0 || portMayBeZero);
        case "--host":
            Host = val;
            return true;
        case "--framing":
            Framing = (Framing)Array.IndexOf(framings, val);
            return (int)Framing >= 0;
        case "--backend":
            Backend = (Backend)Array.IndexOf(backends, val);
            return (int)Backend >= 0;
        case "--io-threads":
            IoThreads = ParseUint(val, 1024, out ok);
            return ok;
        case "--max-message":
            MaxMessage = ParseUint(val, uint.MaxValue, out ok);
            return ok && MaxMessage > 0;
        case "--seconds":
            return double.TryParse(val, NumberStyles.Float, CultureInfo.InvariantCulture, out Seconds) && Seconds >= 0;
        default:
            return false;
        }
    }

    public TcpFlags Flags { get { return LengthIncludesHeader ? TcpFlags.LenIncludesHeader : TcpFlags.None; } }

    public Engine CreateEngine()
    {
        NetConfig c = Engine.DefaultConfig();
        c.Backend = Backend;
        c.IoThreads = IoThreads;
        c.MaxMessage = MaxMessage;
        return new Engine(c);
    }
}
