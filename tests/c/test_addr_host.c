/* addr_host: net_addr_host writes the host part of net_addr_format's text,
 * IPv6 addresses that carry an IPv4 one in inet_ntop's dotted form; on
 * POSIX it agrees with inet_ntop on a spread of addresses. The address of a
 * live socket reads back through net_addr_parse. Bad arguments and a buffer
 * one byte short get NET_E_INVAL. */
#include "testlib.h"

#ifndef _WIN32
#    include <arpa/inet.h>
#    include <sys/socket.h>
#endif

static net_addr v6(const char *hex32)
{
    net_addr a;
    memset(&a, 0, sizeof a);
    a.family = NET_AF_INET6;
    a.port = 443;
    a.scope_id = 3;
    for (int i = 0; i < 16; i++) {
        unsigned b = 0;
        CHECK(sscanf(hex32 + 2 * i, "%2x", &b) == 1);
        a.ip[i] = (uint8_t)b;
    }
    return a;
}

static void host_is(const net_addr *a, const char *want)
{
    char buf[64];
    memset(buf, 'x', sizeof buf);
    int n = net_addr_host(a, buf, sizeof buf);
    CHECKF(n == (int)strlen(want) && strcmp(buf, want) == 0, "net_addr_host gave %d \"%.63s\", want \"%s\"", n,
           n > 0 ? buf : "", want);
}

static void test_texts(void)
{
    net_addr a;
    memset(&a, 0, sizeof a);
    a.family = NET_AF_INET;
    a.port = 80;
    a.ip[0] = 127;
    a.ip[3] = 1;
    host_is(&a, "127.0.0.1");
    memset(a.ip, 255, 4);
    host_is(&a, "255.255.255.255");
    memset(a.ip, 0, 4);
    host_is(&a, "0.0.0.0");

    host_is((a = v6("00000000000000000000000000000000"), &a), "::");
    host_is((a = v6("00000000000000000000000000000001"), &a), "::1");
    host_is((a = v6("20010db8000000000000000000000001"), &a), "2001:db8::1");
    host_is((a = v6("20010db8000100020003000400050006"), &a), "2001:db8:1:2:3:4:5:6");
    host_is((a = v6("fe800000000000000000000000000001"), &a), "fe80::1"); /* no scope */
    /* IPv4-mapped and -compatible: dotted; others with those prefixes: hex */
    host_is((a = v6("00000000000000000000ffff7f000001"), &a), "::ffff:127.0.0.1");
    host_is((a = v6("00000000000000000000ffff00000000"), &a), "::ffff:0.0.0.0");
    host_is((a = v6("00000000000000000000000001020304"), &a), "::1.2.3.4");
    host_is((a = v6("00000000000000000000000000000102"), &a), "::102");
    host_is((a = v6("00000000000000000001ffff7f000001"), &a), "::1:ffff:7f00:1");
    host_is((a = v6("00000000000000000000fffe7f000001"), &a), "::fffe:7f00:1");
}

static void test_bad_arguments(void)
{
    net_addr a = v6("00000000000000000000ffff7f000001");
    char buf[64];
    int need = (int)strlen("::ffff:127.0.0.1");
    CHECK_RC(net_addr_host(&a, buf, (size_t)need + 1), need);
    CHECK_RC(net_addr_host(&a, buf, (size_t)need), NET_E_INVAL);
    a = v6("20010db8000000000000000000000001");
    need = (int)strlen("2001:db8::1");
    CHECK_RC(net_addr_host(&a, buf, (size_t)need + 1), need);
    CHECK_RC(net_addr_host(&a, buf, (size_t)need), NET_E_INVAL);
    CHECK_RC(net_addr_host(&a, buf, 0), NET_E_INVAL);
    CHECK_RC(net_addr_host(&a, NULL, sizeof buf), NET_E_INVAL);
    CHECK_RC(net_addr_host(NULL, buf, sizeof buf), NET_E_INVAL);
    a.family = NET_AF_UNSPEC;
    CHECK_RC(net_addr_host(&a, buf, sizeof buf), NET_E_INVAL);
    a.family = 5;
    CHECK_RC(net_addr_host(&a, buf, sizeof buf), NET_E_INVAL);
}

/* The text of a bound socket's address parses back to the same address. */
static void test_round_trip(void)
{
    net_engine e = tl_engine();
    net_addr bound, parsed;
    net_handle u = tl_udp(e, NULL, NULL, &bound);
    (void)u;
    char host[64];
    CHECK(net_addr_host(&bound, host, sizeof host) > 0);
    CHECK_OK(net_addr_parse(host, bound.port, &parsed));
    CHECKF(tl_addr_eq(&parsed, &bound), "%s parsed back as %s", tl_addr_str(&bound), tl_addr_str(&parsed));
    tl_engine_destroy(e);
}

#ifndef _WIN32
/* Groups chosen from zero, 1, 0xffff and a few others: the zero runs,
 * mapped and compatible prefixes in all their neighbours. */
static void test_agrees_with_inet_ntop(void)
{
    static const uint16_t groups[] = {0, 0, 0, 1, 0xffff, 0x102, 0xdb8};
    uint64_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        net_addr a;
        memset(&a, 0, sizeof a);
        a.family = NET_AF_INET6;
        for (int g = 0; g < 8; g++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint16_t v = groups[(seed >> 33) % (sizeof groups / sizeof groups[0])];
            a.ip[2 * g] = (uint8_t)(v >> 8);
            a.ip[2 * g + 1] = (uint8_t)v;
        }
        char want[64], got[64];
        CHECK(inet_ntop(AF_INET6, a.ip, want, sizeof want) != NULL);
        int n = net_addr_host(&a, got, sizeof got);
        CHECKF(n > 0 && strcmp(got, want) == 0, "net_addr_host gave \"%s\", inet_ntop \"%s\"", n > 0 ? got : "", want);
    }
}
#endif

int main(void)
{
    tl_init("addr_host");
    test_texts();
    test_bad_arguments();
    test_round_trip();
#ifndef _WIN32
    test_agrees_with_inet_ntop();
#endif
    return 0;
}
