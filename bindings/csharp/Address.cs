// Address.cs - "host:port" text, as net prints addresses (NetAddr.ToString,
// net_addr_format: "127.0.0.1:9", "[::1]:7000", "[fe80::1%2]:7000"), split
// into the host and port the library's calls take, so that what net prints
// is what Connect, Listen, UdpOpen, UdpConnect, SendTo and AddrParse accept.

using System;
using System.Globalization;

namespace Net
{
    static class Address
    {
        // Throws ArgumentNullException / ArgumentException naming paramName
        // for text that is not "host:port" (IPv6 hosts in brackets).
        public static void Split(string address, string paramName, out string host, out ushort port)
        {
            if (address == null)
                throw new ArgumentNullException(paramName);
            string portText;
            if (address.StartsWith("[", StringComparison.Ordinal)) {
                int close = address.IndexOf("]:", StringComparison.Ordinal);
                if (close < 0)
                    throw Bad(address, paramName, "an IPv6 address is \"[host]:port\"");
                host = address.Substring(1, close - 1);
                portText = address.Substring(close + 2);
            } else {
                int colon = address.LastIndexOf(':');
                if (colon < 0)
                    throw Bad(address, paramName, "no port");
                host = address.Substring(0, colon);
                portText = address.Substring(colon + 1);
                if (host.IndexOf(':') >= 0)
                    throw Bad(address, paramName, "an IPv6 address needs brackets, as in \"[::1]:7000\"");
            }
            if (host.Length == 0)
                throw Bad(address, paramName, "no host");
            if (!ushort.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port))
                throw Bad(address, paramName, "the port is not a number 0..65535");
        }

        static ArgumentException Bad(string address, string paramName, string why)
        {
            return new ArgumentException("\"" + address + "\" is not \"host:port\": " + why, paramName);
        }
    }
}
