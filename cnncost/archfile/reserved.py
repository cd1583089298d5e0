"""Names an architecture file may not give its symbols or repeat indices.

* ``h``/``w`` and ``H``/``W``: the input size (builder keywords and their symbols);
  sizes named by the engine (``H1``, ``P1``, ...) contain digits, which symbol
  names cannot, so they never collide.
* ``floor``, ``ceil``, ``ceiling``: functions of ``cnncost check``'s claim parser.
* ``same``, ``valid``: padding words.
* Python keywords and ``maximum``/``numpy``: ``sweep`` compiles formulas into Python
  functions whose arguments are the symbols.
* Every letters-only name that ``from sympy import *`` defines (E, I, N, S, beta,
  gamma, ...): ``formula --json`` promises strings that ``sympy.sympify`` reads
  back, and sympify would read such a name as sympy's object, not as a symbol.
  The list below is sympy 1.14's; a test checks it against the installed sympy.
  It is kept as data so that ``cnncost count`` never imports sympy.
"""

from __future__ import annotations

import keyword

OWN = frozenset({"h", "w", "H", "W", "floor", "ceil", "ceiling", "same", "valid", "maximum", "numpy"})

SYMPY_NAMES = frozenset("""
Abs AccumBounds Add Adjoint AlgebraicField AlgebraicNumber And AppliedPredicate Array
AssumptionsContext Atom AtomicExpr BasePolynomialError Basic BlockDiagMatrix BlockMatrix CC
CRootOf Catalan Chi Ci Circle CoercionFailed Complement ComplexField ComplexRegion ComplexRootOf
Complexes ComputationFailed ConditionSet Contains CosineTransform Curve DeferredVector
DenseNDimArray Derivative Determinant DiagMatrix DiagonalMatrix DiagonalOf Dict DiracDelta
DisjointUnion Domain DomainError DotProduct Dummy E EPath EX EXRAW Ei Eijk Ellipse EmptySequence
EmptySet Eq Equality Equivalent EulerGamma EvaluationFailed ExactQuotientFailed Expr
ExpressionDomain ExtraneousFactors FF FU FallingFactorial FiniteField FiniteSet FlagError Float
FourierTransform FractionField Function FunctionClass FunctionMatrix GF GMPYFiniteField
GMPYIntegerRing GMPYRationalField Ge GeneratorsError GeneratorsNeeded GeometryError GoldenRatio
GramSchmidt GreaterThan GroebnerBasis Gt HadamardPower HadamardProduct HankelTransform Heaviside
HeuristicGCDFailed HomomorphismFailed I ITE Id Identity Idx ImageSet ImmutableDenseMatrix
ImmutableDenseNDimArray ImmutableMatrix ImmutableSparseMatrix ImmutableSparseNDimArray Implies
Indexed IndexedBase Integer IntegerRing Integers Integral Intersection Interval Inverse
InverseCosineTransform InverseFourierTransform InverseHankelTransform InverseLaplaceTransform
InverseMellinTransform InverseSineTransform IsomorphismFailed KroneckerDelta KroneckerProduct LC
LM LT Lambda LambertW LaplaceTransform Le LessThan LeviCivita Li Limit Line Lt MatAdd MatMul
MatPow Matrix MatrixBase MatrixExpr MatrixPermute MatrixSlice MatrixSymbol Max MellinTransform
Min Mod Monomial Mul MultivariatePolynomialError MutableDenseMatrix MutableDenseNDimArray
MutableMatrix MutableSparseMatrix MutableSparseNDimArray N NDimArray Nand Naturals Ne
NonSquareMatrixError Nor Not NotAlgebraic NotInvertible NotReversible Number NumberSymbol O
OmegaPower OneMatrix OperationNotSupported OptionError Options Or Order Ordinal POSform Parabola
Permanent PermutationMatrix Piecewise Plane Point PoleError PolificationFailed Poly Polygon
PolynomialDivisionFailed PolynomialError PolynomialRing Pow PowerSet PrecisionExhausted
Predicate Product ProductSet PurePoly PythonFiniteField PythonIntegerRing PythonRational Q QQ
Quaternion RR Range Rational RationalField Rationals Ray RealField RealNumber Reals
RefinementFailed RegularPolygon Rel Rem RisingFactorial RootOf RootSum S SOPform Segment SeqAdd
SeqFormula SeqMul SeqPer Set ShapeError Shi Si Sieve SineTransform SingularityFunction
SparseMatrix SparseNDimArray StrPrinter StrictGreaterThan StrictLessThan Subs Sum Symbol
SymmetricDifference SympifyError TableForm Trace Transpose Triangle TribonacciConstant Tuple
Unequality UnevaluatedExpr UnificationFailed Union UnivariatePolynomialError UniversalSet Wild
WildFunction Xor Ynm ZZ ZeroMatrix Znm abundance acos acosh acot acoth acsc acsch adjoint airyai
airyaiprime airybi airybiprime algebras andre apart approximants arg arity asec asech asin asinh
ask assuming assumptions atan atanh banded bell bernoulli besseli besselj besselk besselsimp
bessely beta betainc binomial blockcut cacheit calculus cancel capture carmichael cartes
casoratian catalan cbrt ccode ceiling centroid chebyshevt chebyshevu checkodesol checkpdesol
checksol cofactors collect combsimp comp compose composite compositepi concrete conjugate
content convolution cos cosh cot coth csc csch cse cxxcode decompogen decompose deg degree denom
det diag diff digamma diophantine discrete discriminant div divisors doctest dotprint dsolve
epath erf erfc erfcinv erfi erfinv euler evalf evaluate exp expand expint exptrigsimp exquo
external eye factor factorial factorint factorrat false fcode ff fft fibonacci field filldedent
flatten floor fps frac fraction fresnelc fresnels fu functions fwht gamma gammasimp gcd gcdex
gegenbauer genocchi geometry gff grevlex grlex groebner group gruntz harmonic hermite hessian
horner hyper hyperexpand hypersimilar hypersimp idiff ifft ifwht igcd igrevlex igrlex ilcm ilex
im imageset integrate interactive interpolate intersection intervals intt invert isolate isprime
itermonomials jacobi jn jscode kroneckersimp laguerre lambdify latex lcm legendre lerchphi lex
li limit linsolve ln log logcombine loggamma lowergamma lucas marcumq mathieuc mathieucprime
mathieus mathieusprime mathml maximum meijerg minimum minpoly mobius monic motzkin multigamma
multipledispatch multiplicity nan nextprime nfloat nonlinsolve npartitions nroots nsimplify
nsolve ntheory ntt numer ones oo ordered parsing partition pdiv pdsolve per periodicity
permutedims pexquo pi plot plotting polarify poly polygamma polylog polys posify postfixes
powdenest powsimp pprint pquo prefixes prem pretty preview prevprime prime primefactors primenu
primeomega primepi primerange primitive primorial printing prod product public pycode python quo
rad radsimp randMatrix randprime ratsimp ratsimpmodprime rcode rcollect re reduced refine
release rem reshape residue resultant rf ring root rootof roots rotations rsolve satisfiable sec
sech separatevars sequence series seterr sfield shape sieve sift sign signsimp simplify sin sinc
singularities singularityintegrate sinh solve solveset sqf sqrt sqrtdenest srepr sring sstr
sstrrepr stieltjes strategies sturm subfactorial subresultants subsets substitution summation
symarray symbols symmetrize sympify take tan tanh tensor tensorcontraction tensordiagonal
tensorproduct test textplot threaded timed together totient trace trailing transpose tribonacci
trigamma trigsimp true trunc unflatten unpolarify uppergamma use utilities var variations
vectorize vfield viete vring wronskian xfield xring xthreaded yn zeros zeta zoo""".split())

RESERVED = OWN | SYMPY_NAMES | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)

# Layer-name segments that are already attributes of a torch.nn.Module (torch 2.x) or of the
# zoo's root module: ``add_module`` refuses them, so a file may not use them as names.
MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double
dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule
half ipu load_state_dict modules mtia named_buffers named_children named_modules named_parameters
parameters register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to
to_empty train training type xpu zero_grad network_name input_shape
""".split())
