// VersionTest.cs - one version everywhere: the loaded library's
// NetApi.VersionString and NetApi.Version, the Net.dll assembly's
// AssemblyVersion and AssemblyInformationalVersion, Native.VersionMajor/
// Minor/Patch and Net.csproj's <Version> all equal the project version
// (project(net VERSION) in the top CMakeLists.txt, passed by CMake).
//
//   mono VersionTest.exe <project version> <path of Net.csproj>

using System;
using System.Reflection;
using System.Xml;
using Net;
using static TestUtil;

static class VersionTest
{
    static int Main(string[] args)
    {
        if (args.Length != 2) {
            Console.Error.WriteLine("usage: VersionTest.exe <project version> <Net.csproj>");
            return 2;
        }
        string expected = args[0];
        Version v = new Version(expected);

        Check(NetApi.VersionString == expected, "library net_version_string " + NetApi.VersionString + " is " + expected);
        Check(NetApi.Version == (uint)((v.Major << 16) | (v.Minor << 8) | v.Build),
              "library net_version 0x" + NetApi.Version.ToString("x"));
        Check(Native.VersionMajor == v.Major && Native.VersionMinor == v.Minor && Native.VersionPatch == v.Build,
              "Native.Version* " + Native.VersionMajor + "." + Native.VersionMinor + "." + Native.VersionPatch);

        Assembly asm = typeof(Engine).Assembly;
        Version av = asm.GetName().Version;
        Check(av == new Version(v.Major, v.Minor, v.Build, 0), "AssemblyVersion " + av);
        var info = (AssemblyInformationalVersionAttribute)Attribute.GetCustomAttribute(
            asm, typeof(AssemblyInformationalVersionAttribute));
        Check(info != null && info.InformationalVersion == expected,
              "AssemblyInformationalVersion " + (info == null ? "missing" : info.InformationalVersion));

        var csproj = new XmlDocument();
        csproj.Load(args[1]);
        XmlNodeList versions = csproj.GetElementsByTagName("Version");
        Check(versions.Count == 1 && versions[0].InnerText == expected,
              args[1] + ": one <Version>, " + (versions.Count == 0 ? "missing" : versions[0].InnerText));

        Console.WriteLine("library, assembly ({0}), Native constants and Net.csproj are all {1}", av, expected);
        return 0;
    }
}
