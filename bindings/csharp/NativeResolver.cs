// NativeResolver.cs - on .NET (5 and later), where DllImport("net") would
// otherwise fall through to the system loader, which on Debian finds the
// unrelated libnet of libnet1-dev: the library is looked for next to Net.dll,
// then in the package layout runtimes/<rid>/native/ beside it (the layout
// NuGet and Net.csproj use). Only when neither holds it does the runtime's own
// probing run (the application's deps.json native assets, then the system).
//
// Mono has no NativeLibrary; it reads the dllmap in Net.dll.config instead
// (docs/api-csharp.md). Compiled only where the API exists.

#if NET5_0_OR_GREATER
using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Net
{
    static class NativeResolver
    {
        // Before the first P/Invoke of the assembly: a module initializer runs
        // when Net.dll is loaded.
        [ModuleInitializer]
        internal static void Register()
        {
            NativeLibrary.SetDllImportResolver(typeof(NativeResolver).Assembly, Resolve);
        }

        static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (name != Native.Lib)
                return IntPtr.Zero;
            foreach (string path in Candidates(assembly))
                if (File.Exists(path) && NativeLibrary.TryLoad(path, out IntPtr lib))
                    return lib;
            return IntPtr.Zero;
        }

        static string[] Candidates(Assembly assembly)
        {
            string dir = Path.GetDirectoryName(assembly.Location) ?? AppContext.BaseDirectory;
            string file = FileName();
            return new[] {
                Path.Combine(dir, file),
                Path.Combine(dir, "runtimes", RuntimeId(), "native", file),
                Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeId(), "native", file),
            };
        }

        static string FileName()
        {
            if (OperatingSystem.IsWindows()) return "net.dll";
            if (OperatingSystem.IsMacOS()) return "libnet.dylib";
            return "libnet.so";
        }

        // The portable RID of this process: linux-x64, win-x64, osx-arm64, ...
        static string RuntimeId()
        {
            string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
            string arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            return os + "-" + arch;
        }
    }
}
#endif
