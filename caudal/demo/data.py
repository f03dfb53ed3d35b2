"""Reference data for the synthetic utility: places, names, streets, tariffs, brands.

Plain Python constants, no Django. The places are real (Cusco districts served by
SEDACUSCO; Bogotá localidades and the neighbouring municipalities served by EAAB); the
tariffs are rounded approximations of published schedules, good enough for a demo cartera
to look like one (amounts per m³ and fixed charges in minor units: céntimos / centavos).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SectorSpec:
    name: str
    weight: float  # share of the accounts of the whole utility (relative)
    stratum_mean: float = 0.0  # CO only: mean socioeconomic stratum of the residences
    commerce: float = 1.0  # multiplier of the commercial share (city centres are higher)
    south: bool = False  # CO: Bogotá street numbering "Sur"
    streets: tuple[str, ...] = ()  # PE: streets of the sector (address pool)
    lots: bool = False  # PE: settlement addressed by block and lot (APV / AA.HH.)


@dataclass(frozen=True)
class ZoneSpec:
    name: str
    sectors: tuple[SectorSpec, ...]


@dataclass(frozen=True)
class MunicipalitySpec:
    code: str
    name: str
    department: str
    altitude_m: int
    lat: float
    lon: float
    zones: tuple[ZoneSpec, ...]


@dataclass(frozen=True)
class Tariff:
    """Monthly tariff of one use category (minor units)."""

    water: tuple[int, int]  # price per m³ in the first block, above it
    sewer: tuple[int, int]
    fixed: int  # fixed charge per month
    block_m3: int = 10  # first block size per month


@dataclass(frozen=True)
class Profile:
    code: str  # "pe" | "co"
    country: str  # "PE" | "CO"
    utility_name: str
    short_name: str
    currency: str
    periodicity: str  # "monthly" | "bimonthly"
    tax_id_base: str  # without check digit
    gln: str
    time_zone: str
    due_days: int
    tax_rate: float  # IGV on the whole bill (PE); 0 for CO residential water
    municipalities: tuple[MunicipalitySpec, ...]
    given_male: tuple[str, ...]
    given_female: tuple[str, ...]
    surnames: tuple[str, ...]
    surname_weights: tuple[float, ...]
    tariffs: dict[str, Tariff]
    stratum_factor: dict[int, float] = field(default_factory=dict)
    category_factor: dict[str, float] = field(default_factory=dict)
    mean_m3: dict[str, float] = field(default_factory=dict)  # monthly consumption median
    meter_brands: tuple[str, ...] = ()
    category_shares: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------- Peru (Cusco)

_S = SectorSpec

PE_MUNICIPALITIES = (
    MunicipalitySpec(
        "080101",
        "Cusco",
        "Cusco",
        3399,
        -13.5170,
        -71.9785,
        (
            ZoneSpec(
                "Centro Histórico",
                (
                    _S(
                        "Centro Histórico",
                        0.055,
                        commerce=5.0,
                        streets=(
                            "Calle Plateros",
                            "Calle Procuradores",
                            "Calle Saphi",
                            "Calle Tecsecocha",
                            "Calle Marqués",
                            "Calle Mantas",
                            "Calle Santa Clara",
                            "Calle Hospital",
                            "Av. El Sol",
                            "Calle Loreto",
                            "Calle Triunfo",
                            "Calle Maruri",
                        ),
                    ),
                    _S(
                        "San Blas",
                        0.030,
                        commerce=2.5,
                        streets=(
                            "Calle Hatun Rumiyoc",
                            "Calle Choquechaca",
                            "Calle Tandapata",
                            "Cuesta de San Blas",
                            "Calle Carmen Alto",
                            "Calle Suytuccato",
                            "Calle Atoqsayk'uchi",
                            "Psje. Lucrepata",
                        ),
                    ),
                    _S(
                        "San Cristóbal",
                        0.025,
                        commerce=1.5,
                        streets=(
                            "Calle Pumacurco",
                            "Calle Amargura",
                            "Calle Resbalosa",
                            "Calle Tambo de Montero",
                            "Calle Kiskapata",
                            "Psje. Sapantiana",
                        ),
                    ),
                ),
            ),
            ZoneSpec(
                "Cusco Norte",
                (
                    _S(
                        "Santa Ana",
                        0.035,
                        streets=(
                            "Calle Arcopata",
                            "Calle Tambo de Montero",
                            "Av. Arcopata",
                            "Calle Meloc",
                            "Calle Nueva Alta",
                            "Calle Fierro",
                            "Psje. Santa Ana",
                        ),
                    ),
                    _S(
                        "Picchu",
                        0.040,
                        lots=True,
                        streets=(
                            "APV Picchu Alto",
                            "APV Picchu La Rinconada",
                            "AA.HH. Picchu San Isidro",
                            "APV Independencia",
                        ),
                    ),
                    _S(
                        "Tica Tica",
                        0.035,
                        lots=True,
                        streets=(
                            "APV Tica Tica",
                            "APV Los Álamos",
                            "Urb. Huancaro Alto",
                            "APV Villa El Sol",
                            "APV Cruz Verde",
                        ),
                    ),
                    _S(
                        "Ayuda Mutua",
                        0.040,
                        streets=(
                            "Av. Antonio Lorena",
                            "Av. Ejército",
                            "Calle Ayuda Mutua",
                            "Psje. Los Pinos",
                            "Calle Recoleta",
                            "Av. Collasuyo",
                        ),
                    ),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "080108",
        "Wanchaq",
        "Cusco",
        3366,
        -13.5255,
        -71.9630,
        (
            ZoneSpec(
                "Wanchaq",
                (
                    _S(
                        "Mariscal Gamarra",
                        0.045,
                        commerce=1.8,
                        streets=(
                            "Av. de la Cultura",
                            "Calle Ricardo Palma",
                            "Calle Manco Inca",
                            "Av. Los Incas",
                            "Calle Pachacútec",
                            "Psje. Mariscal Gamarra",
                        ),
                    ),
                    _S(
                        "Santa Mónica",
                        0.040,
                        commerce=1.6,
                        streets=(
                            "Av. Tullumayo",
                            "Av. Garcilaso",
                            "Calle Belén",
                            "Calle Pardo",
                            "Av. Huáscar",
                            "Calle Clorinda Matto",
                        ),
                    ),
                    _S(
                        "Ttio",
                        0.040,
                        streets=(
                            "Av. 28 de Julio",
                            "Calle Túpac Amaru",
                            "Calle Los Nogales",
                            "Calle Tomasa Tito Condemayta",
                            "Psje. Los Sauces",
                        ),
                    ),
                ),
            ),
            ZoneSpec(
                "Wanchaq Sur",
                (
                    _S(
                        "Manuel Prado",
                        0.040,
                        streets=(
                            "Av. Huayruropata",
                            "Av. Pachacútec",
                            "Calle Los Pinos",
                            "Calle Las Gardenias",
                            "Av. Regional",
                            "Calle Tacna",
                        ),
                    ),
                    _S(
                        "Magisterio",
                        0.030,
                        streets=(
                            "Calle Los Cedros",
                            "Calle Los Eucaliptos",
                            "Av. Infancia",
                            "Calle Micaela Bastidas",
                            "Psje. Las Retamas",
                        ),
                    ),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "080106",
        "Santiago",
        "Cusco",
        3400,
        -13.5330,
        -71.9830,
        (
            ZoneSpec(
                "Santiago",
                (
                    _S(
                        "Belén",
                        0.040,
                        commerce=1.5,
                        streets=(
                            "Av. Grau",
                            "Calle Matará",
                            "Av. Ejército",
                            "Calle Belén",
                            "Calle Almudena",
                            "Psje. Santiago",
                        ),
                    ),
                    _S(
                        "Zarzuela",
                        0.040,
                        streets=(
                            "Calle Zarzuela",
                            "Av. Argentina",
                            "Calle Chile",
                            "Calle Bolivia",
                            "Calle Brasil",
                            "Psje. Uruguay",
                        ),
                    ),
                    _S(
                        "Huancaro",
                        0.045,
                        lots=True,
                        streets=(
                            "APV Huancaro",
                            "APV Señor de Huanca",
                            "AA.HH. Huancaro Alto",
                            "APV Villa María",
                        ),
                    ),
                ),
            ),
            ZoneSpec(
                "Santiago Alto",
                (
                    _S(
                        "Dignidad Nacional",
                        0.045,
                        lots=True,
                        streets=(
                            "AA.HH. Dignidad Nacional",
                            "APV Viva El Perú",
                            "APV Manco Cápac",
                            "APV 1 de Mayo",
                        ),
                    ),
                    _S(
                        "Ccoripata",
                        0.030,
                        lots=True,
                        streets=("APV Ccoripata", "APV Bellavista", "APV Chocco", "APV Arahuay"),
                    ),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "080105",
        "San Sebastián",
        "Cusco",
        3300,
        -13.5330,
        -71.9330,
        (
            ZoneSpec(
                "San Sebastián",
                (
                    _S(
                        "Túpac Amaru",
                        0.040,
                        streets=(
                            "Av. Cusco",
                            "Av. Túpac Amaru",
                            "Calle Los Olivos",
                            "Calle Las Magnolias",
                            "Psje. Los Geranios",
                            "Calle Inca Roca",
                        ),
                    ),
                    _S(
                        "Tankarpata",
                        0.035,
                        lots=True,
                        streets=(
                            "APV Tankarpata",
                            "APV Quispiquilla",
                            "APV Uvima",
                            "APV Surihuaylla",
                        ),
                    ),
                    _S(
                        "Cachimayo",
                        0.035,
                        streets=(
                            "Av. de la Cultura",
                            "Calle Cachimayo",
                            "Calle Wiracocha",
                            "Calle Mateo Pumacahua",
                            "Psje. Kantu",
                        ),
                    ),
                    _S(
                        "Santa Rosa",
                        0.030,
                        lots=True,
                        streets=(
                            "APV Santa Rosa",
                            "APV Los Portales",
                            "APV Villa Progreso",
                            "APV Alto Qosqo",
                        ),
                    ),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "080104",
        "San Jerónimo",
        "Cusco",
        3244,
        -13.5450,
        -71.8860,
        (
            ZoneSpec(
                "San Jerónimo",
                (
                    _S(
                        "Centro San Jerónimo",
                        0.040,
                        commerce=1.5,
                        streets=(
                            "Av. de la Cultura",
                            "Plaza de Armas",
                            "Calle Inca Garcilaso",
                            "Calle Ramón Castilla",
                            "Psje. San Jerónimo",
                        ),
                    ),
                    _S(
                        "Picol",
                        0.030,
                        lots=True,
                        streets=(
                            "APV Picol Orcconpugio",
                            "APV Santa Rosa de Picol",
                            "APV Larapa Grande",
                            "APV Sucso Aucaylle",
                        ),
                    ),
                    _S(
                        "Larapa",
                        0.030,
                        streets=(
                            "Urb. Larapa",
                            "Calle Los Alisos",
                            "Calle Las Orquídeas",
                            "Psje. Los Nogales",
                        ),
                    ),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "080103",
        "Poroy",
        "Cusco",
        3500,
        -13.4960,
        -72.0440,
        (
            ZoneSpec(
                "Poroy",
                (
                    _S(
                        "Poroy",
                        0.020,
                        lots=True,
                        streets=("Av. Poroy", "APV Poroy", "APV Tambillo", "Calle Estación"),
                    ),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "080107",
        "Saylla",
        "Cusco",
        3150,
        -13.5690,
        -71.8270,
        (
            ZoneSpec(
                "Saylla",
                (
                    _S(
                        "Saylla",
                        0.015,
                        lots=True,
                        streets=("Av. Saylla", "APV Saylla Alto", "Calle Chicharrón", "APV Huasao"),
                    ),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "081101",
        "Paucartambo",
        "Cusco",
        2906,
        -13.3180,
        -71.5960,
        (
            ZoneSpec(
                "Paucartambo",
                (
                    _S(
                        "Paucartambo",
                        0.015,
                        commerce=1.3,
                        streets=(
                            "Jr. Bolognesi",
                            "Jr. Comercio",
                            "Jr. Libertad",
                            "Jr. Ricardo Palma",
                            "Psje. Carlos III",
                        ),
                    ),
                ),
            ),
        ),
    ),
)

PE_GIVEN_MALE: tuple[str, ...] = (
    "Juan",
    "José",
    "Luis",
    "Carlos",
    "Jorge",
    "Miguel",
    "Víctor",
    "Julio",
    "Pedro",
    "Edwin",
    "Wilber",
    "Rubén",
    "Hernán",
    "Alberto",
    "César",
    "Mario",
    "Walter",
    "Raúl",
    "Fredy",
    "Roberto",
    "Ronald",
    "Percy",
    "Yuri",
    "Elvis",
    "David",
    "Daniel",
    "Jesús",
    "Alejandro",
    "Fernando",
    "Hugo",
    "Ángel",
    "Teófilo",
    "Saturnino",
    "Valentín",
    "Cirilo",
    "Florencio",
    "Wilfredo",
    "Américo",
    "Nicanor",
    "Efraín",
    "Rolando",
    "Leonidas",
    "Marco Antonio",
    "Juan Carlos",
    "José Luis",
    "Luis Alberto",
)
PE_GIVEN_FEMALE: tuple[str, ...] = (
    "María",
    "Rosa",
    "Carmen",
    "Ana",
    "Juana",
    "Luz",
    "Elena",
    "Julia",
    "Gladys",
    "Yolanda",
    "Lourdes",
    "Flor",
    "Nélida",
    "Marleni",
    "Sonia",
    "Rocío",
    "Silvia",
    "Teresa",
    "Lucía",
    "Patricia",
    "Verónica",
    "Milagros",
    "Yeni",
    "Delia",
    "Isabel",
    "Norma",
    "Margarita",
    "Lidia",
    "Victoria",
    "Martha",
    "Vilma",
    "Ruth",
    "Katherine",
    "Dina",
    "Hilda",
    "Paulina",
    "Eusebia",
    "Justina",
    "Maruja",
    "María Elena",
    "Rosa María",
    "Ana María",
    "Luz Marina",
)
PE_SURNAMES_QUECHUA: tuple[str, ...] = (
    "Quispe",
    "Mamani",
    "Huamán",
    "Condori",
    "Ccori",
    "Huillca",
    "Choque",
    "Cusi",
    "Apaza",
    "Ccama",
    "Cjuro",
    "Huarca",
    "Layme",
    "Puma",
    "Sutta",
    "Ttito",
    "Yupanqui",
    "Illa",
    "Ccahuana",
    "Pumayalli",
    "Chuquitapa",
    "Ccoa",
    "Huaraca",
    "Sullca",
    "Kjuro",
    "Tupa",
    "Anccasi",
    "Cahuana",
    "Hancco",
    "Ninantay",
    "Challco",
    "Auccapuma",
    "Chacón",
    "Champi",
)
PE_SURNAMES_SPANISH: tuple[str, ...] = (
    "García",
    "Flores",
    "Rodríguez",
    "Sánchez",
    "Díaz",
    "Gutiérrez",
    "Vargas",
    "Castillo",
    "Rojas",
    "Torres",
    "Ramos",
    "Álvarez",
    "Chávez",
    "Mendoza",
    "Paredes",
    "Cárdenas",
    "Zúñiga",
    "Loayza",
    "Pacheco",
    "Valencia",
    "Farfán",
    "Peña",
    "Ugarte",
    "Béjar",
    "Cáceres",
    "Miranda",
    "Montesinos",
    "Palomino",
    "Salas",
    "Villena",
    "Zamalloa",
    "Oblitas",
    "Luna",
    "Vera",
    "Pérez",
    "Gonzales",
    "Ríos",
    "Aguilar",
    "Ochoa",
    "Olivera",
    "Gamarra",
    "Pillco",
    "Aragón",
    "Cornejo",
    "Del Castillo",
    "Vizcarra",
    "Herrera",
    "Baca",
)

PE_TARIFFS = {
    # SEDACUSCO-like schedule, S/ per m³ (céntimos) and fixed charge per month
    "social": Tariff(water=(100, 100), sewer=(45, 45), fixed=220),
    "domestic": Tariff(water=(160, 295), sewer=(70, 130), fixed=410),
    "commercial": Tariff(water=(410, 520), sewer=(180, 230), fixed=410, block_m3=30),
    "industrial": Tariff(water=(620, 680), sewer=(270, 300), fixed=410, block_m3=100),
    "state": Tariff(water=(320, 380), sewer=(140, 170), fixed=410, block_m3=50),
}

PE_PROFILE = Profile(
    code="pe",
    country="PE",
    utility_name="EPS Demo S.A.",
    short_name="EPS DEMO",
    currency="PEN",
    periodicity="monthly",
    tax_id_base="2049000111",
    gln="",
    time_zone="America/Lima",
    due_days=20,
    tax_rate=0.18,
    municipalities=PE_MUNICIPALITIES,
    given_male=PE_GIVEN_MALE,
    given_female=PE_GIVEN_FEMALE,
    surnames=PE_SURNAMES_QUECHUA + PE_SURNAMES_SPANISH,
    surname_weights=(3.0,) * 4
    + (1.6,) * (len(PE_SURNAMES_QUECHUA) - 4)
    + (1.0,) * len(PE_SURNAMES_SPANISH),
    tariffs=PE_TARIFFS,
    mean_m3={"social": 9, "domestic": 14, "commercial": 32, "industrial": 260, "state": 110},
    meter_brands=("Zenner", "Elster", "Itron", "Sensus", "B Meters", "Arad", "Maddalena"),
    category_shares={
        "domestic": 0.880,
        "commercial": 0.080,
        "social": 0.015,
        "state": 0.012,
        "industrial": 0.013,
    },
)

# ------------------------------------------------------------------ Colombia (Bogotá, EAAB)

CO_MUNICIPALITIES = (
    MunicipalitySpec(
        "11001",
        "Bogotá D.C.",
        "Bogotá D.C.",
        2640,
        4.6510,
        -74.0817,
        (
            ZoneSpec(
                "Zona 1",
                (
                    _S("Usaquén", 0.060, 4.4, commerce=1.6),
                    _S("Chapinero", 0.022, 5.0, commerce=3.0),
                    _S("Suba", 0.140, 3.2),
                ),
            ),
            ZoneSpec(
                "Zona 2",
                (
                    _S("Barrios Unidos", 0.018, 3.4, commerce=2.5),
                    _S("Teusaquillo", 0.020, 4.0, commerce=1.8),
                    _S("Engativá", 0.095, 2.9),
                ),
            ),
            ZoneSpec(
                "Zona 3",
                (
                    _S("Santa Fe", 0.012, 2.2, commerce=2.5),
                    _S("La Candelaria", 0.003, 2.4, commerce=4.0),
                    _S("Los Mártires", 0.011, 2.9, commerce=4.0),
                    _S("Antonio Nariño", 0.011, 2.9, commerce=2.0, south=True),
                    _S("Puente Aranda", 0.030, 3.0, commerce=2.0),
                    _S("San Cristóbal", 0.046, 1.9, south=True),
                ),
            ),
            ZoneSpec(
                "Zona 4",
                (
                    _S("Rafael Uribe Uribe", 0.044, 2.2, south=True),
                    _S("Usme", 0.042, 1.5, south=True),
                    _S("Tunjuelito", 0.021, 2.3, south=True),
                    _S("Ciudad Bolívar", 0.072, 1.4, south=True),
                ),
            ),
            ZoneSpec(
                "Zona 5",
                (
                    _S("Kennedy", 0.120, 2.6, south=True),
                    _S("Bosa", 0.085, 1.9, south=True),
                    _S("Fontibón", 0.048, 3.1, commerce=1.5),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "25754",
        "Soacha",
        "Cundinamarca",
        2565,
        4.5794,
        -74.2168,
        (
            ZoneSpec(
                "Soacha",
                (
                    _S("Compartir", 0.015, 1.8),
                    _S("Soacha Centro", 0.012, 2.3, commerce=2.0),
                    _S("Cazucá", 0.012, 1.2),
                    _S("San Mateo", 0.013, 2.6),
                    _S("San Humberto", 0.008, 2.1),
                ),
            ),
        ),
    ),
    MunicipalitySpec(
        "25295",
        "Gachancipá",
        "Cundinamarca",
        2568,
        4.9913,
        -73.8715,
        (
            ZoneSpec(
                "Gachancipá",
                (
                    _S("Gachancipá Urbano", 0.005, 2.3, commerce=1.3),
                    _S("Gachancipá Rural", 0.002, 1.6),
                ),
            ),
        ),
    ),
)

CO_GIVEN_MALE: tuple[str, ...] = (
    "José",
    "Luis",
    "Carlos",
    "Juan",
    "Jorge",
    "Andrés",
    "Diego",
    "Camilo",
    "Santiago",
    "Sebastián",
    "Alejandro",
    "Fernando",
    "Jaime",
    "Hernando",
    "Álvaro",
    "Germán",
    "Óscar",
    "Fabio",
    "Julián",
    "Mauricio",
    "Édgar",
    "Wilson",
    "John",
    "Jhon Jairo",
    "Nelson",
    "Orlando",
    "Gustavo",
    "Ricardo",
    "Felipe",
    "Daniel",
    "Miguel Ángel",
    "Juan David",
    "Juan Pablo",
    "Luis Eduardo",
    "Carlos Andrés",
    "Héctor",
    "Rafael",
    "William",
    "Libardo",
)
CO_GIVEN_FEMALE: tuple[str, ...] = (
    "María",
    "Luz Marina",
    "Blanca",
    "Gloria",
    "Martha",
    "Ana María",
    "Sandra",
    "Claudia",
    "Diana",
    "Paola",
    "Carolina",
    "Natalia",
    "Andrea",
    "Liliana",
    "Yolanda",
    "Marleny",
    "Esperanza",
    "Rosa",
    "Patricia",
    "Adriana",
    "Catalina",
    "Laura",
    "Valentina",
    "Daniela",
    "Lucía",
    "Nubia",
    "Myriam",
    "Ángela",
    "Stella",
    "Gladys",
    "María Fernanda",
    "Luz Dary",
    "Ana Lucía",
    "Flor Alba",
    "Marisol",
    "Yenny",
    "Jenny Paola",
)
CO_SURNAMES: tuple[str, ...] = (
    "Rodríguez",
    "Gómez",
    "González",
    "Martínez",
    "García",
    "López",
    "Hernández",
    "Sánchez",
    "Ramírez",
    "Pérez",
    "Díaz",
    "Muñoz",
    "Rojas",
    "Moreno",
    "Jiménez",
    "Vargas",
    "Castro",
    "Gutiérrez",
    "Ortiz",
    "Romero",
    "Suárez",
    "Herrera",
    "Torres",
    "Álvarez",
    "Ruiz",
    "Ramos",
    "Castillo",
    "Mora",
    "Rivera",
    "Cárdenas",
    "Forero",
    "Cortés",
    "Parra",
    "Beltrán",
    "Pinzón",
    "Cifuentes",
    "Bernal",
    "Cruz",
    "Garzón",
    "Vanegas",
    "Rincón",
    "Sarmiento",
    "Quintero",
    "Ospina",
    "Buitrago",
    "Mesa",
    "Acosta",
    "Medina",
    "Aguilar",
    "Peña",
    "Chaparro",
    "Bohórquez",
    "Fonseca",
    "Niño",
    "Ávila",
    "Velandia",
    "Camargo",
)

CO_TARIFFS = {
    # EAAB-like schedule per month for stratum 4 (the reference); factors below
    "domestic": Tariff(water=(330000, 330000), sewer=(310000, 310000), fixed=1810000, block_m3=11),
    "social": Tariff(water=(330000, 330000), sewer=(310000, 310000), fixed=1810000, block_m3=11),
    "commercial": Tariff(water=(330000, 330000), sewer=(310000, 310000), fixed=1810000),
    "industrial": Tariff(water=(330000, 330000), sewer=(310000, 310000), fixed=1810000),
    "state": Tariff(water=(330000, 330000), sewer=(310000, 310000), fixed=1810000),
}

CO_PROFILE = Profile(
    code="co",
    country="CO",
    utility_name="Empresa de Acueducto Demo E.S.P.",
    short_name="ACUEDUCTO DEMO",
    currency="COP",
    periodicity="bimonthly",
    tax_id_base="899999123",
    gln="7709998000018",
    time_zone="America/Bogota",
    due_days=15,
    tax_rate=0.0,
    municipalities=CO_MUNICIPALITIES,
    given_male=CO_GIVEN_MALE,
    given_female=CO_GIVEN_FEMALE,
    surnames=CO_SURNAMES,
    surname_weights=(2.5,) * 10 + (1.0,) * (len(CO_SURNAMES) - 10),
    tariffs=CO_TARIFFS,
    # subsidies (strata 1-3) and contributions (5-6) on the stratum-4 reference
    stratum_factor={1: 0.30, 2: 0.60, 3: 0.85, 4: 1.0, 5: 1.5, 6: 1.6},
    category_factor={"commercial": 1.5, "industrial": 1.3, "state": 1.0, "social": 0.3},
    mean_m3={"social": 8, "domestic": 11, "commercial": 28, "industrial": 240, "state": 95},
    meter_brands=("Itron", "Elster", "Sensus", "Zenner", "Kamstrup", "Iberconta", "Actaris"),
    category_shares={
        "domestic": 0.895,
        "commercial": 0.080,
        "social": 0.0,
        "state": 0.012,
        "industrial": 0.013,
    },
)

PROFILES = {"pe": PE_PROFILE, "co": CO_PROFILE}

# Business names -------------------------------------------------------------------------

PE_COMMERCIAL_KINDS: tuple[str, ...] = (
    "Bodega",
    "Restaurante",
    "Hostal",
    "Hotel",
    "Pollería",
    "Panadería",
    "Ferretería",
    "Farmacia",
    "Librería",
    "Picantería",
    "Lavandería",
    "Cevichería",
    "Minimarket",
    "Peluquería",
    "Cafetería",
    "Agencia de Viajes",
    "Clínica Dental",
    "Taller",
)
PE_BUSINESS_NAMES: tuple[str, ...] = (
    "Santa Rosa",
    "El Ayllu",
    "Los Incas",
    "Qosqo",
    "Wiracocha",
    "San Blas",
    "Inti Raymi",
    "Machu Picchu",
    "Señor de Huanca",
    "El Cóndor",
    "Pachamama",
    "Ollantay",
    "Sacsayhuamán",
    "Virgen de Belén",
    "La Merced",
    "Kusi",
    "Killa",
    "El Dorado",
    "San Pedro",
    "Sumaq",
)
PE_LEGAL_SUFFIXES: tuple[str, ...] = ("S.A.C.", "E.I.R.L.", "S.R.L.", "S.A.")
PE_INDUSTRIAL: tuple[str, ...] = (
    "Embotelladora",
    "Cervecería",
    "Textil",
    "Curtiembre",
    "Lácteos",
    "Molinera",
    "Industrias Alimentarias",
    "Procesadora de Alimentos",
    "Ladrillera",
    "Agroindustrias",
)
PE_STATE: tuple[str, ...] = (
    "Municipalidad Distrital de {muni}",
    "Institución Educativa N.° {n}",
    "Centro de Salud {sector}",
    "Comisaría PNP {sector}",
    "Hospital Regional del Cusco",
    "Universidad Nacional de San Antonio Abad del Cusco",
    "Gobierno Regional Cusco",
    "Poder Judicial - Sede {muni}",
    "Mercado de Abastos {sector}",
    "Estadio Universitario",
    "EsSalud - Policlínico {sector}",
)

CO_COMMERCIAL_KINDS: tuple[str, ...] = (
    "Panadería",
    "Tienda",
    "Restaurante",
    "Droguería",
    "Ferretería",
    "Papelería",
    "Cigarrería",
    "Asadero",
    "Supermercado",
    "Peluquería",
    "Lavandería",
    "Hotel",
    "Cafetería",
    "Taller Automotriz",
    "Miscelánea",
    "Frutería",
    "Carnes",
)
CO_BUSINESS_NAMES: tuple[str, ...] = (
    "La Esperanza",
    "El Porvenir",
    "San Jorge",
    "La 80",
    "Don Pepe",
    "El Trigal",
    "Mi Tierra",
    "Santa Lucía",
    "El Paisa",
    "La Sabana",
    "Monserrate",
    "El Dorado",
    "Los Andes",
    "La Candelaria",
    "El Rosal",
    "Villa Luz",
    "La Estrella",
    "Bacatá",
)
CO_LEGAL_SUFFIXES: tuple[str, ...] = ("S.A.S.", "Ltda.", "S.A.", "& Cía. S. en C.")
CO_INDUSTRIAL: tuple[str, ...] = (
    "Alimentos",
    "Textiles",
    "Curtiembres",
    "Plásticos",
    "Industrias",
    "Lácteos",
    "Químicos",
    "Metalmecánica",
    "Gaseosas",
    "Papeles",
)
CO_STATE: tuple[str, ...] = (
    "Colegio Distrital {sector}",
    "Alcaldía Local de {sector}",
    "Hospital {sector} E.S.E.",
    "Estación de Policía {sector}",
    "Jardín Infantil ICBF {sector}",
    "Universidad Nacional de Colombia",
    "Secretaría de Educación Distrital",
    "Biblioteca Pública {sector}",
    "Plaza de Mercado {sector}",
    "Alcaldía Municipal de {muni}",
)

# Bogotá-style street kinds (with their share) --------------------------------------------
CO_STREET_KINDS: tuple[str, ...] = (
    "Calle",
    "Carrera",
    "Diagonal",
    "Transversal",
    "Avenida Calle",
    "Avenida Carrera",
)
CO_STREET_WEIGHTS = (0.42, 0.38, 0.08, 0.07, 0.025, 0.025)
CO_UNIT_SUFFIXES: tuple[str, ...] = (
    "",
    "",
    "",
    " Apto 201",
    " Apto 302",
    " Apto 504",
    " Casa 12",
    " Int. 3",
    " Torre 2 Apto 801",
    " Local 1",
)

PE_INTERIOR_SUFFIXES: tuple[str, ...] = (
    "",
    "",
    "",
    "",
    " Int. 2",
    " Int. A",
    " 2do piso",
    " Dpto. 301",
)
