/*
 * Small C functions compiled for every guest architecture at build time
 * (tests/unit/meson.build, one binary per function) and for the host, so
 * that test-run.c compares what the guest computes with what the host does.
 */
#include <stddef.h>
#include <stdint.h>
#ifdef CHECKSUM
uint32_t checksum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}
#endif
#ifdef STRCOPY
size_t strcopy(char *d, const char *s)
{
	size_t n = 0;
	while ((d[n] = s[n]) != 0)
		n++;
	return n;
}
#endif
#ifdef SYSLOOP
/*
 * One system call with its number and one argument in the registers each
 * architecture's Linux ABI uses; on the host (HOST_KERNEL defined by the
 * test) a C function stands in for the kernel the test plays.
 */
static inline __attribute__((always_inline)) long sys1(long nr, long a)
{
#if defined(HOST_KERNEL)
	return HOST_KERNEL(nr, a);
#elif defined(__x86_64__)
	register long rax __asm__("rax") = nr;
	register long rdi __asm__("rdi") = a;
	__asm__ volatile("syscall"
			 : "+r"(rax)
			 : "r"(rdi)
			 : "rcx", "r11", "memory");
	return rax;
#elif defined(__i386__)
	__asm__ volatile("int $0x80" : "+a"(nr) : "b"(a) : "memory");
	return nr;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8) : "memory");
	return x0;
#elif defined(__arm__)
	register long r7 __asm__("r7") = nr;
	register long r0 __asm__("r0") = a;
	__asm__ volatile("svc 0" : "+r"(r0) : "r"(r7) : "memory");
	return r0;
#elif defined(__mips__)
	register long v0 __asm__("$2") = nr;
	register long a0 __asm__("$4") = a;
	__asm__ volatile("syscall" : "+r"(v0) : "r"(a0) : "memory");
	return v0;
#elif defined(__riscv)
	register long a7 __asm__("a7") = nr;
	register long a0 __asm__("a0") = a;
	__asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "memory");
	return a0;
#else
#error "no system call instruction for this architecture"
#endif
}

/* N system calls in a loop, numbered 100..103 in turn, each one's answer
 * folded into the result that the next one gets as its argument. */
uint32_t sysloop(uint32_t n, uint32_t seed)
{
	uint32_t acc = seed;

	for (uint32_t i = 0; i < n; i++)
		acc = acc * 31u + (uint32_t)sys1(100 + (i & 3), (long)acc);
	return acc;
}
#endif
