# Fechas, como las leen los clientes. Se completan $day, $month y $year.
date-long = { $day } de { $month } de { $year }
date-short = { $day } { $month } { $year }
date-short-no-year = { $day } { $month }
date-time = { $date }, { $time }

month-long-1 = enero
month-long-2 = febrero
month-long-3 = marzo
month-long-4 = abril
month-long-5 = mayo
month-long-6 = junio
month-long-7 = julio
month-long-8 = agosto
month-long-9 = septiembre
month-long-10 = octubre
month-long-11 = noviembre
month-long-12 = diciembre

month-short-1 = ene
month-short-2 = feb
month-short-3 = mar
month-short-4 = abr
month-short-5 = may
month-short-6 = jun
month-short-7 = jul
month-short-8 = ago
month-short-9 = sept
month-short-10 = oct
month-short-11 = nov
month-short-12 = dic

# Todas las páginas del cliente.
site-name = fieldpay
test-mode-title = Modo de prueba: no se mueve dinero.
test-mode-text = En esta página no se cobra ninguna tarjeta.
questions-call = ¿Preguntas? Llame al
language-switch = Idioma
back-to-invoices = Volver a sus facturas
card-ending = { $brand } terminada en { $last4 }
card-ending-expires = { $brand } terminada en { $last4 }, vence { $expiry }

not-found-title = Página no encontrada
not-found-text = Este enlace no abre nada. Si le llegó en un mensaje sobre una factura, puede que lo haya reemplazado uno más reciente: use el enlace del último mensaje o llame a la empresa que se lo envió.
too-many-requests = Demasiadas solicitudes. Espere un minuto y vuelva a intentarlo.
form-expired = Este formulario venció o no vino de este sitio. Regrese, vuelva a cargar la página e inténtelo de nuevo.
signin-form-expired = Este formulario de inicio de sesión venció. La página se volvió a cargar: inicie sesión de nuevo.
server-error = Algo salió mal de nuestro lado. Vuelva a intentarlo en un momento.

# Datos de la tarjeta.
card-details = Datos de la tarjeta
card-name = Nombre en la tarjeta
card-number = Número de tarjeta
card-expiry = Vencimiento (MM / AA)
card-expiry-placeholder = MM / AA
card-cvc = Código de seguridad (CVC)
card-zip = Código postal
card-label = Tarjeta
card-needs-js = Para ingresar una tarjeta nueva debe tener JavaScript activado.
card-needs-js-call = Para ingresar una tarjeta nueva debe tener JavaScript activado, o llame al { $phone } para pagar por teléfono.
card-enter-details = Ingrese los datos de su tarjeta. Para ingresar la tarjeta debe tener JavaScript activado en su navegador.

# Lo que dicen los scripts de la página.
js-select-invoice = Seleccione una factura para pagar
js-pay-amount = Pagar { $amount }
js-processing = Procesando…
js-enter-number = Ingrese el número de la tarjeta.
js-enter-expiry = Ingrese la fecha de vencimiento como MM/AA.
js-enter-cvc = Ingrese el código de seguridad de 3 o 4 dígitos.
js-card-unreadable = No se pudo leer la tarjeta.
js-processor-unreachable = No pudimos comunicarnos con el procesador de tarjetas. Revise su conexión y vuelva a intentarlo.
js-card-unavailable = El ingreso de tarjetas no está disponible en este momento. Vuelva a intentarlo más tarde o llámenos para pagar por teléfono.
js-finishing = Terminando su pago…
js-card-incorrect-number = El número de la tarjeta es incorrecto. Revíselo y vuelva a intentarlo.
js-card-expiry-month = El mes de vencimiento debe estar entre 1 y 12.
js-card-expired = La fecha de vencimiento de la tarjeta ya pasó. Revísela o use otra tarjeta.
js-card-cvc = El código de seguridad (CVC) debe tener 3 o 4 dígitos.
js-card-postal-code = El código postal es demasiado largo.
js-card-test-mode = Esta es una página de prueba: no se cobra ninguna tarjeta real. Use un número de tarjeta de prueba, como 4242 4242 4242 4242.

# Rechazos, según el código del procesador.
decline-insufficient-funds = La tarjeta no tiene fondos suficientes. Pruebe con otra tarjeta o llame a su banco.
decline-expired-card = La tarjeta está vencida. Revise la fecha de vencimiento o use otra tarjeta.
decline-incorrect-cvc = El código de seguridad (CVC) es incorrecto. Revíselo y vuelva a intentarlo.
decline-incorrect-number = El número de la tarjeta es incorrecto. Revíselo y vuelva a intentarlo.
decline-processing-error = No se pudo procesar la tarjeta. Vuelva a intentarlo en un momento.
decline-authentication-required = Su banco pidió confirmar este pago y no se confirmó. No se cobró nada. Vuelva a intentarlo y complete la verificación de su banco, o use otra tarjeta.
decline-generic = Su banco rechazó la tarjeta. Pruebe con otra tarjeta o llame a su banco.

# La autorización de pago automático que acepta el cliente (se guarda tal como se mostró).
autopay-consent-call = Autorizo a { $company } a cobrar en esta tarjeta las facturas de mi cuenta cuando venzan, hasta que yo lo cancele. Puedo cancelarlo en cualquier momento desde esta página o llamando al { $phone }.
autopay-consent-contact = Autorizo a { $company } a cobrar en esta tarjeta las facturas de mi cuenta cuando venzan, hasta que yo lo cancele. Puedo cancelarlo en cualquier momento desde esta página o comunicándome con { $company }.

# Messages (email and SMS) a customer receives.
message-pay-link = Haga clic aquí para pagar
message-test-mode = Modo de prueba — no se mueve dinero
message-test-mode-sms = Modo de prueba - no se mueve dinero.
