// EchoServer.cs - the C# echo server sample: the TCP echo server of
// docs/CONVENTIONS.md (the same command line and "listening on" line as
// samples/echo_server), written with the C# binding. Every message (or, with
// --framing raw, every chunk) goes back to its sender.
//
//   mono EchoServer.exe [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]
//        [--length-includes-header] [--backend auto|epoll|io_uring|iocp]
//        [--io-threads N] [--max-message BYTES] [--seconds S]
//
// Stops on SIGINT (Ctrl-C) or SIGTERM, or after --seconds, and exits 0.
// Stats every 2 seconds on stderr. Under Mono (mcs defines __MonoCS__) the
// signals come through Mono.Posix (compile with -r:Mono.Posix; Debian:
// libmono-posix4.0-cil): Mono's Console.CancelKeyPress sees Ctrl-C only on a
// terminal, not the SIGINT a script sends. .NET 6+ has PosixSignalRegistration.

using System;
using System.Diagnostics;
#if __MonoCS__
using System.Threading;
using Mono.Unix;
using Mono.Unix.Native;
#elif NET6_0_OR_GREATER
using System.Runtime.InteropServices;
#endif
using Net;

static class EchoServer
{
    const int PollSliceMs = 100; // how soon a stop request is seen
    const double StatsPeriodS = 2.0;

    static volatile bool stop;

    // SIGINT and SIGTERM only set the flag the poll loop checks every
    // PollSliceMs: the engine is closed by the loop's thread, not the handler's.
    static void CatchStop()
    {
#if __MonoCS__
        var signals = new[] { new UnixSignal(Signum.SIGINT), new UnixSignal(Signum.SIGTERM) };
        var waiter = new Thread(() => {
            UnixSignal.WaitAny(signals);
            stop = true;
        });
        waiter.IsBackground = true;
        waiter.Start();
#else
        Console.CancelKeyPress += (sender, e) => {
            e.Cancel = true;
            stop = true;
        };
#if NET6_0_OR_GREATER
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => {
            ctx.Cancel = true;
            stop = true;
        });
#endif
#endif
    }

    static int Main(string[] args)
    {
        var cli = new SampleCli("EchoServer.exe [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be] " +
                                "[--length-includes-header] [--backend auto|epoll|io_uring|iocp] [--io-threads N] " +
                                "[--max-message BYTES] [--seconds S]", true);
        cli.Parse(args, null);
        try {
            using (Engine eng = cli.CreateEngine()) {
                ulong listener = eng.Listen(cli.Host, cli.Port, cli.Framing, cli.Flags);
                CatchStop();
                Console.WriteLine("listening on {0} backend={1} io_threads={2} framing={3}", NetApi.LocalAddr(listener),
                                  eng.BackendName, cli.IoThreads, SampleCli.FramingName(cli.Framing));
                Console.Out.Flush();
                Serve(eng, cli.Seconds);
            }
            return 0;
        } catch (NetException e) {
            Console.Error.WriteLine("EchoServer: " + e.Message);
            return 1;
        }
    }

    static void Serve(Engine eng, double seconds)
    {
        var events = new NetEvent[512];
        var clock = Stopwatch.StartNew();
        double nextStats = StatsPeriodS;
        long echoFailed = 0;
        while (!stop && (seconds <= 0 || clock.Elapsed.TotalSeconds < seconds)) {
            int n = eng.Poll(events, PollSliceMs);
            for (int i = 0; i < n; i++) {
                // The payload is valid until the next Poll: sent from where it is.
                if (events[i].Type == EventType.Data &&
                    NetApi.TrySend(events[i].Handle, events[i].Data, events[i].Len) != NetError.Ok)
                    echoFailed++;
            }
            if (clock.Elapsed.TotalSeconds >= nextStats) {
                nextStats += StatsPeriodS;
                NetStats s = eng.Stats();
                Console.Error.WriteLine("connections={0} messages_in={1} bytes_in={2} bytes_out={3} echo_failed={4}",
                                        s.Connections, s.MessagesIn, s.BytesIn, s.BytesOut, echoFailed);
            }
        }
    }
}
