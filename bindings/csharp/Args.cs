// Args.cs - the argument checks every wrapper method makes before calling
// into the library, so that a wrong argument throws the .NET exception that
// names it (ArgumentNullException / ArgumentOutOfRangeException with the
// parameter's own name) instead of a NetException or a crash in native code.

using System;

namespace Net
{
    static class Args
    {
        public static void NotNull(object value, string name)
        {
            if (value == null)
                throw new ArgumentNullException(name);
        }

        // A slice [offset, offset + count) of an array of length: offset is
        // blamed when it is outside the array, count when the slice overruns.
        public static void Slice(int length, int offset, int count)
        {
            if (offset < 0 || offset > length)
                throw new ArgumentOutOfRangeException("offset", offset, "must be within the array (0.." + length + ")");
            if (count < 0 || count > length - offset)
                throw new ArgumentOutOfRangeException("count", count,
                                                      "must be 0.." + (length - offset) + " (the bytes after offset)");
        }

        // A native pointer and length: null only with length 0.
        public static void Pointer(IntPtr data, uint len, string name)
        {
            if (data == IntPtr.Zero && len != 0)
                throw new ArgumentNullException(name, "a null pointer with a non-zero length");
        }

        public static void Defined<T>(T value, string name)
        {
            if (!Enum.IsDefined(typeof(T), value))
                throw new ArgumentOutOfRangeException(name, value, "not a " + typeof(T).Name + " value");
        }

        // Poll's timeout: -1 waits forever, 0 does not wait; anything below -1
        // means nothing (and would block forever in the library).
        public static void Timeout(int timeoutMs, string name)
        {
            if (timeoutMs < -1)
                throw new ArgumentOutOfRangeException(name, timeoutMs, "-1 (forever), 0 or a positive number of ms");
        }
    }
}
