/*
 * A static program without libc for the shell kernel of 97-elf.bats: it
 * writes a line with write(1, …) and ends with exit(40 + argc), both raw
 * system calls of its architecture.
 */
static long sys3(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b, x2 __asm__("x2") = c;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2)
			 : "memory");
	return x0;
#elif defined(__arm__)
	register long r7 __asm__("r7") = nr, r0 __asm__("r0") = a;
	register long r1 __asm__("r1") = b, r2 __asm__("r2") = c;
	__asm__ volatile("svc 0"
			 : "+r"(r0)
			 : "r"(r7), "r"(r1), "r"(r2)
			 : "memory");
	return r0;
#elif defined(__mips__)
	register long v0 __asm__("$2") = nr, a0 __asm__("$4") = a;
	register long a1 __asm__("$5") = b, a2 __asm__("$6") = c;
	register long a3 __asm__("$7");
	__asm__ volatile("syscall"
			 : "+r"(v0), "=r"(a3)
			 : "r"(a0), "r"(a1), "r"(a2)
			 : "$1", "$3", "$8", "$9", "$10", "$11", "$12", "$13",
			   "$14", "$15", "$24", "$25", "hi", "lo", "memory");
	return a3 ? -v0 : v0;
#elif defined(__riscv)
	register long a7 __asm__("a7") = nr, a0 __asm__("a0") = a;
	register long a1 __asm__("a1") = b, a2 __asm__("a2") = c;
	__asm__ volatile("ecall"
			 : "+r"(a0)
			 : "r"(a7), "r"(a1), "r"(a2)
			 : "memory");
	return a0;
#else
#error "no system calls for this architecture"
#endif
}

#if defined(__x86_64__)
enum { NR_WRITE = 1, NR_EXIT = 60 };
#elif defined(__aarch64__) || defined(__riscv)
enum { NR_WRITE = 64, NR_EXIT = 93 };
#elif defined(__arm__)
enum { NR_WRITE = 4, NR_EXIT = 1 };
#elif defined(__mips__)
enum { NR_WRITE = 4004, NR_EXIT = 4001 };
#endif

static const char msg[] = "hello from the guest\n";

/* The kernel's stack: argc at SP. A C function, as gcc sets SP up
 * nothing here, so argc is read by main below through a naked entry. */
void entry(long *sp)
{
	long argc = sp[0];
	const char *arg1 = argc > 1 ? (const char *)sp[2] : "";
	long len = 0;

	sys3(NR_WRITE, 1, (long)msg, sizeof(msg) - 1);
	while (arg1[len])
		len++;
	if (len) {
		sys3(NR_WRITE, 1, (long)arg1, len);
		sys3(NR_WRITE, 1, (long)"\n", 1);
	}
	sys3(NR_EXIT, 40 + argc, 0, 0);
	for (;;)
		;
}

/* _start: hand SP (argc's address) to entry as its first argument. */
#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n"
	" call entry\n");
#elif defined(__aarch64__)
__asm__(".globl _start\n_start:\n mov x0, sp\n bl entry\n");
#elif defined(__arm__)
__asm__(".globl _start\n_start:\n mov r0, sp\n bl entry\n");
#elif defined(__mips__)
__asm__(".globl _start\n.set noreorder\n_start:\n move $4, $29\n"
	" addiu $29, $29, -32\n jal entry\n nop\n.set reorder\n");
#elif defined(__riscv)
__asm__(".globl _start\n_start:\n mv a0, sp\n call entry\n");
#endif
